package tracewire

/*
#include "tracewire.h"
*/
import "C"

import "time"

// The WebSocket limits the core decides (tracewire::limits in Rust,
// docs/PROTOCOL.md section 11.1). A traced client and server apply them
// unless configured otherwise; twwebsocket applies WSMaxMessageSize and
// WSHandshakeTimeout by default.
const (
	// WSMaxMessageSize is the default largest WebSocket message accepted,
	// in bytes (1 MiB): far above the JSON turns, token deltas and audio
	// chunks a gateway moves, and a bound on what one message costs the
	// receiver.
	WSMaxMessageSize = 1 << 20
	// WSMaxFrameSize is the default largest WebSocket frame accepted, in
	// bytes: the message limit, since most clients send a message as one
	// frame.
	WSMaxFrameSize = WSMaxMessageSize
	// WSWriteBufferSize is the default write buffer, in bytes (128 KiB).
	WSWriteBufferSize = 128 << 10
	// WSMaxWriteBufferSize is the default most bytes queued for writing
	// (4 MiB), for libraries that queue sends; past it a send fails.
	WSMaxWriteBufferSize = 4 << 20
	// WSHandshakeTimeout is the default longest opening handshake (10 s),
	// from the start of the dial (TCP connect included) or accept to the
	// upgrade.
	WSHandshakeTimeout = 10 * time.Second
	// WSHandshakeMaxRequestBytes is the largest opening handshake request a
	// server should read (64 KiB, headers included). net/http admits 1 MiB
	// by default; set http.Server.MaxHeaderBytes to this.
	WSHandshakeMaxRequestBytes = 64 << 10
)

// The constants above are the C ABI's values, which the capi tests check
// against the core's; these lines stop compiling (constant overflow) if
// the Go and C values ever differ.
const (
	_ = uint64(WSMaxMessageSize - C.TW_WS_MAX_MESSAGE_SIZE)
	_ = uint64(C.TW_WS_MAX_MESSAGE_SIZE - WSMaxMessageSize)
	_ = uint64(WSMaxFrameSize - C.TW_WS_MAX_FRAME_SIZE)
	_ = uint64(C.TW_WS_MAX_FRAME_SIZE - WSMaxFrameSize)
	_ = uint64(WSWriteBufferSize - C.TW_WS_WRITE_BUFFER_SIZE)
	_ = uint64(C.TW_WS_WRITE_BUFFER_SIZE - WSWriteBufferSize)
	_ = uint64(WSMaxWriteBufferSize - C.TW_WS_MAX_WRITE_BUFFER_SIZE)
	_ = uint64(C.TW_WS_MAX_WRITE_BUFFER_SIZE - WSMaxWriteBufferSize)
	_ = uint64(WSHandshakeTimeout/time.Millisecond) - C.TW_WS_HANDSHAKE_TIMEOUT_MS
	_ = C.TW_WS_HANDSHAKE_TIMEOUT_MS - uint64(WSHandshakeTimeout/time.Millisecond)
	_ = uint64(WSHandshakeMaxRequestBytes - C.TW_WS_HANDSHAKE_MAX_REQUEST_BYTES)
	_ = uint64(C.TW_WS_HANDSHAKE_MAX_REQUEST_BYTES - WSHandshakeMaxRequestBytes)
)

// The cache bounds of memo.go are the C ABI's, checked the same way.
const (
	_ = uint64(cacheSharedSlots - C.TW_CACHE_SHARED_SLOTS)
	_ = uint64(C.TW_CACHE_SHARED_SLOTS - cacheSharedSlots)
	_ = uint64(cacheMaxKeyBytes - C.TW_CACHE_MAX_KEY_BYTES)
	_ = uint64(C.TW_CACHE_MAX_KEY_BYTES - cacheMaxKeyBytes)
)
