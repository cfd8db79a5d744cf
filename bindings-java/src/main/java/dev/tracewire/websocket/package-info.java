/**
 * WebSocket integrations: {@link dev.tracewire.websocket.TracingConfigurator} and {@link
 * dev.tracewire.websocket.TracedSession} for Jakarta WebSocket servers (2.1+), {@link
 * dev.tracewire.websocket.TracedWebSocket} for the JDK's {@code java.net.http.WebSocket} client.
 */
package dev.tracewire.websocket;
