package dev.tracewire.bench;

import dev.tracewire.internal.Native;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** The raw cost of one JNI call into the library (guarded entry point, no arguments). */
@State(Scope.Thread)
public class JniBench {
  @Setup
  public void setup() {
    Native.ensureLoaded();
  }

  @Benchmark
  public void emptyNativeCall() {
    Native.noop();
  }
}
