package tracewire

import (
	"errors"
	"strconv"
)

// Code is a stable numeric error code, the same in every language tracewire
// supports (docs/PROTOCOL.md section 8).
type Code uint32

// The error codes. Numbers never change meaning.
const (
	CodeInvalidTraceParent         Code = 1
	CodeInvalidTraceState          Code = 2
	CodeInvalidBaggage             Code = 3
	CodeInvalidEnvelope            Code = 4
	CodeUnsupportedEnvelopeVersion Code = 5
	CodeNotJSONObject              Code = 6
	CodeInvalidCarrier             Code = 7
	CodeInvalidArgument            Code = 8
	CodeInvalidURL                 Code = 9
	CodePanic                      Code = 100
)

// Sentinel errors, one per code: every *Error unwraps to the sentinel of its
// code, so errors.Is(err, tracewire.ErrInvalidEnvelope) works.
var (
	ErrInvalidTraceParent         = errors.New("tracewire: invalid_traceparent")
	ErrInvalidTraceState          = errors.New("tracewire: invalid_tracestate")
	ErrInvalidBaggage             = errors.New("tracewire: invalid_baggage")
	ErrInvalidEnvelope            = errors.New("tracewire: invalid_envelope")
	ErrUnsupportedEnvelopeVersion = errors.New("tracewire: unsupported_envelope_version")
	ErrNotJSONObject              = errors.New("tracewire: not_json_object")
	ErrInvalidCarrier             = errors.New("tracewire: invalid_carrier")
	ErrInvalidArgument            = errors.New("tracewire: invalid_argument")
	ErrInvalidURL                 = errors.New("tracewire: invalid_url")
	// ErrPanic means the core panicked; the panic was caught at the C ABI
	// and did not crash the process. Please report it.
	ErrPanic = errors.New("tracewire: panic")
	// ErrUnknownCode is what an *Error with a code this package does not
	// know unwraps to (a newer core).
	ErrUnknownCode = errors.New("tracewire: unknown error code")
)

var sentinels = map[Code]error{
	CodeInvalidTraceParent:         ErrInvalidTraceParent,
	CodeInvalidTraceState:          ErrInvalidTraceState,
	CodeInvalidBaggage:             ErrInvalidBaggage,
	CodeInvalidEnvelope:            ErrInvalidEnvelope,
	CodeUnsupportedEnvelopeVersion: ErrUnsupportedEnvelopeVersion,
	CodeNotJSONObject:              ErrNotJSONObject,
	CodeInvalidCarrier:             ErrInvalidCarrier,
	CodeInvalidArgument:            ErrInvalidArgument,
	CodeInvalidURL:                 ErrInvalidURL,
	CodePanic:                      ErrPanic,
}

// String is the code's stable name, e.g. "invalid_traceparent".
func (c Code) String() string {
	if s, ok := sentinels[c]; ok {
		return s.Error()[len("tracewire: "):]
	}
	return "code_" + strconv.FormatUint(uint64(c), 10)
}

// Error is an error from the tracewire core: a stable code and a message.
type Error struct {
	Code    Code
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return "tracewire: " + e.Code.String() + ": " + e.Message
}

// Unwrap returns the sentinel error of the code (for errors.Is).
func (e *Error) Unwrap() error {
	if s, ok := sentinels[e.Code]; ok {
		return s
	}
	return ErrUnknownCode
}
