package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.NativeLoader;
import java.io.File;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The jar as users get it: its contents, its loader's failure message, its native surface. */
class PackagingTest {
  private static Path jar() {
    return Path.of(System.getProperty("tracewire.jar"));
  }

  @Test
  void theJarCarriesTheLibraryForThisPlatform() throws Exception {
    try (JarFile jf = new JarFile(jar().toFile())) {
      String entry = "native/" + NativeLoader.platform() + "/" + System.mapLibraryName("tracewire_jni");
      assertTrue(jf.getEntry(entry) != null, entry + " in the jar");
    }
  }

  /** Every {@code native} method of {@link Native} has an exported symbol, and nothing else is exported. */
  @Test
  void nativeDeclarationsMatchTheExportedSymbols() throws Exception {
    Path lib = Path.of(System.getProperty("tracewire.jar")).getParent().getParent().resolve("../target/release")
        .normalize().resolve(System.mapLibraryName("tracewire_jni"));
    String cargoTarget = System.getProperty("tracewire.cargoTarget");
    if (cargoTarget != null) {
      lib = Path.of(cargoTarget, "release", System.mapLibraryName("tracewire_jni"));
    }
    assumeTrue(Files.exists(lib), "library at " + lib);
    Process p;
    try {
      p = new ProcessBuilder("nm", "-D", "--defined-only", lib.toString()).redirectErrorStream(true).start();
    } catch (java.io.IOException e) {
      assumeTrue(false, "nm not available");
      return;
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    Set<String> exported = new TreeSet<>();
    for (String line : out.split("\n")) {
      String[] parts = line.trim().split("\\s+");
      if (parts.length == 3) {
        exported.add(parts[2]);
      }
    }
    Set<String> declared = new TreeSet<>();
    for (Method m : Native.class.getDeclaredMethods()) {
      if (Modifier.isNative(m.getModifiers())) {
        declared.add("Java_dev_tracewire_internal_Native_" + m.getName());
      }
    }
    assertEquals(declared, exported);
  }

  @Test
  void theLoaderListsWhatItTriedWhenNothingWorks() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java, "-cp", System.getProperty("java.class.path"),
                "-Dos.arch=sparcv9", "-D" + NativeLoader.PATH_PROPERTY + "=/nonexistent/libx.so",
                LoaderProbe.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertNotEquals(0, p.exitValue(), out);
    assertTrue(out.contains("cannot load the native library for linux-sparcv9"), out);
    assertTrue(out.contains("-Dtracewire.native.path=/nonexistent/libx.so"), out);
    assertTrue(out.contains("System.loadLibrary(\"tracewire_jni\")"), out);
    assertTrue(out.contains("/native/linux-sparcv9/libtracewire_jni.so: not in the jar"), out);
    assertTrue(File.pathSeparator.length() == 1);
  }

  /**
   * The internal package sits below the public API: none of its classes names a public class,
   * so it never depends on the API's class-initialisation order.
   */
  @Test
  void theInternalPackageDoesNotReferToThePublicApi() throws Exception {
    // Class references are constant-pool strings such as "dev/tracewire/TraceContext".
    Pattern publicClass = Pattern.compile("dev/tracewire/(?!internal/)[A-Za-z]\\w*");
    int checked = 0;
    try (JarFile jf = new JarFile(jar().toFile())) {
      for (JarEntry e : Collections.list(jf.entries())) {
        String name = e.getName();
        if (name.startsWith("dev/tracewire/internal/") && name.endsWith(".class")) {
          String text = new String(jf.getInputStream(e).readAllBytes(), StandardCharsets.ISO_8859_1);
          Matcher m = publicClass.matcher(text);
          assertFalse(m.find(), () -> name + " refers to " + m.group());
          checked++;
        }
      }
    }
    assertNotEquals(0, checked, "internal classes in the jar");
  }
}
