# Reads `go test -bench` output (several -count runs) and prints, for each
# benchmark pair, the fastest run of ours next to the reference and the
# ratio ours/reference (<= 1.0: ours is at least as fast).
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") ns = $i + 0
	if (!(name in best) || ns < best[name]) best[name] = ns
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
END {
	printf "\n%-66s %12s %12s %8s\n", "benchmark (fastest run of each)", "ours ns/op", "ref ns/op", "ratio"
	for (i = 1; i <= n; i++) {
		name = order[i]
		if (name !~ /\/ours$/) continue
		base = name; sub(/\/ours$/, "", base)
		ref = ""
		if ((base "/otel") in best) ref = base "/otel"
		if ((base "/handwritten") in best) ref = base "/handwritten"
		sub(/\/traced$/, "", base)
		if ((base "/plain") in best) ref = base "/plain"
		if (ref == "") continue
		printf "%-66s %12.0f %12.0f %8.2f\n", base " (vs " substr(ref, length(base) + 2) ")", best[name], best[ref], best[name] / best[ref]
		done[ref] = 1
	}
	for (i = 1; i <= n; i++) if (order[i] !~ /\/(ours|otel|handwritten)$/ && !(order[i] in done)) printf "%-66s %12.1f\n", order[i], best[order[i]]
}
