/**
 * The JNI bridge: the native library loader, every {@code native} method, and the buffers they
 * exchange. Not API: it changes with the native library in the same jar.
 */
package dev.tracewire.internal;
