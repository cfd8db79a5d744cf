package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.NativeLoader;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The language boundary: loading, panics, error codes. */
class BridgeTest {
  @Test
  void testsRunAgainstThePackagedJar() throws Exception {
    String jar = System.getProperty("tracewire.jar");
    assertNotNull(jar, "the build passes tracewire.jar");
    Path codeSource =
        Path.of(TraceContext.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    assertEquals(Path.of(jar).toRealPath(), codeSource.toRealPath(), "API classes come from the jar");
  }

  @Test
  void nativeLibraryIsLoadedFromInsideTheJar() {
    // Unless a library was named explicitly (the AddressSanitizer run does).
    assumeTrue(System.getProperty(NativeLoader.PATH_PROPERTY) == null);
    Native.ensureLoaded();
    String from = NativeLoader.loadedFrom();
    assertTrue(from.startsWith("jar:"), from);
    assertTrue(from.contains("/native/" + NativeLoader.platform() + "/"), from);
  }

  @Test
  void aPanicBecomesAnExceptionWithThePanicCode() {
    TracewireException e = assertThrows(TracewireException.class, Native::testingPanic);
    assertEquals(ErrorCode.PANIC, e.code());
    assertTrue(e.getMessage().contains("deliberate test panic"), e.getMessage());
    // The JVM and the library still work afterwards, repeatedly.
    for (int i = 0; i < 100; i++) {
      assertThrows(TracewireException.class, Native::testingPanic);
    }
    assertEquals("panic", ErrorCode.PANIC.coreName());
  }

  @ParameterizedTest
  @EnumSource(ErrorCode.class)
  void anErrorCarriesTheCoresCode(ErrorCode code) {
    TracewireException e =
        assertThrows(TracewireException.class, () -> Native.testingError(code.code()));
    assertEquals(code, e.code());
    assertTrue(e.getMessage().contains(code.coreName()), e.getMessage());
    // Each code has its own subclass to catch.
    assertEquals(TracewireException.of(code, "m").getClass(), e.getClass());
  }

  @Test
  void subclassesCanBeCaughtByKind() {
    assertThrows(TracewireException.InvalidTraceParent.class, () -> W3C.parseTraceParent("nope"));
    assertThrows(TracewireException.Internal.class, Native::testingPanic);
    try (JsonEnvelope env = JsonEnvelope.atDefaultPath()) {
      assertThrows(TracewireException.NotJsonObject.class, () -> env.inject("[]", TraceContext.empty()));
    }
    assertTrue(BinaryEnvelope.decode(new byte[] {(byte) 0xF5, 0x54, 0x57, 9}).error()
        instanceof TracewireException.UnsupportedEnvelopeVersion);
  }

  @ParameterizedTest
  @EnumSource(ErrorCode.class)
  void javaCodesMatchTheCoresNames(ErrorCode code) {
    assertEquals(code.name().toLowerCase(java.util.Locale.ROOT), code.coreName());
  }

  @Test
  void everyCoreCodeHasAJavaCode() {
    // The core names each code it has; Java must have a constant for each (none missing, so no
    // code falls back to PANIC), and none the core does not know.
    int known = 0;
    for (int code = 0; code < 256; code++) {
      String name = Native.errorName(code);
      if (name != null) {
        known++;
        assertEquals(code, ErrorCode.of(code).code(), name);
        assertEquals(name, ErrorCode.of(code).coreName());
      }
    }
    assertEquals(ErrorCode.values().length, known);
    assertThrows(TracewireException.InvalidUrl.class, () -> Target.fromUrl("http://example.com/"));
  }

  @Test
  void anEmptyCallWorks() {
    for (int i = 0; i < 1000; i++) {
      Native.noop();
    }
  }
}
