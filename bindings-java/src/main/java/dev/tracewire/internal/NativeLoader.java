package dev.tracewire.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Loads the tracewire JNI library, in this order:
 *
 * <ol>
 *   <li>the file named by the system property {@value #PATH_PROPERTY}, if set;
 *   <li>{@code System.loadLibrary("tracewire_jni")} (a library on {@code java.library.path});
 *   <li>the library inside this jar, {@code /native/<os>-<arch>/<lib>}, extracted to a
 *       temporary file.
 * </ol>
 *
 * <p>When all fail, the {@link UnsatisfiedLinkError} lists every attempt and why it failed.
 * Internal: not API.
 */
public final class NativeLoader {
  /** System property naming the native library file to load before any other attempt. */
  public static final String PATH_PROPERTY = "tracewire.native.path";

  static final String NAME = "tracewire_jni";

  private static volatile String loadedFrom;

  private NativeLoader() {}

  /** Where the library was loaded from (a path, {@code java.library.path}, or a jar resource). */
  public static String loadedFrom() {
    return loadedFrom;
  }

  /** {@code linux-x86_64}, {@code linux-aarch64}, {@code osx-aarch64}, ...: the jar's directory name. */
  public static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String o =
        os.startsWith("linux")
            ? "linux"
            : os.startsWith("mac") || os.startsWith("darwin")
                ? "osx"
                : os.startsWith("windows") ? "windows" : os.replaceAll("[^a-z0-9]", "");
    String a =
        switch (arch) {
          case "amd64", "x86_64", "x64" -> "x86_64";
          case "aarch64", "arm64" -> "aarch64";
          default -> arch.replaceAll("[^a-z0-9_]", "");
        };
    return o + "-" + a;
  }

  static synchronized void load() {
    if (loadedFrom != null) {
      return;
    }
    List<String> tried = new ArrayList<>();
    String path = System.getProperty(PATH_PROPERTY);
    if (path != null && !path.isEmpty()) {
      try {
        System.load(Path.of(path).toAbsolutePath().toString());
        loadedFrom = path;
        return;
      } catch (UnsatisfiedLinkError | RuntimeException e) {
        tried.add("-D" + PATH_PROPERTY + "=" + path + ": " + e.getMessage());
      }
    } else {
      tried.add("-D" + PATH_PROPERTY + ": not set");
    }
    try {
      System.loadLibrary(NAME);
      loadedFrom = "java.library.path";
      return;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      tried.add("System.loadLibrary(\"" + NAME + "\"): " + e.getMessage());
    }
    String resource = "/native/" + platform() + "/" + System.mapLibraryName(NAME);
    try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
      if (in == null) {
        tried.add("jar resource " + resource + ": not in the jar (no build for this platform)");
      } else {
        Path tmp = Files.createTempFile("tracewire_jni-", "-" + System.mapLibraryName(NAME));
        tmp.toFile().deleteOnExit();
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        System.load(tmp.toAbsolutePath().toString());
        loadedFrom = String.valueOf(NativeLoader.class.getResource(resource));
        return;
      }
    } catch (IOException | UnsatisfiedLinkError | RuntimeException e) {
      tried.add("jar resource " + resource + ": " + e);
    }
    throw new UnsatisfiedLinkError(
        "tracewire: cannot load the native library for "
            + platform()
            + "; tried:\n  "
            + String.join("\n  ", tried));
  }
}
