package tracewire

import (
	"bytes"
	"errors"
	"testing"
)

func TestPanicEntryPointBecomesError(t *testing.T) {
	err := testingPanic()
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("got %v, want ErrPanic", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != CodePanic || e.Message == "" {
		t.Fatalf("got %#v", err)
	}
}

func TestErrorEntryPointMapsEveryCode(t *testing.T) {
	for code, sentinel := range sentinels {
		err := testingError(code)
		if !errors.Is(err, sentinel) {
			t.Errorf("code %d: %v does not unwrap to %v", code, err, sentinel)
		}
		for other, s := range sentinels {
			if other != code && errors.Is(err, s) {
				t.Errorf("code %d also matches %v", code, s)
			}
		}
	}
	if err := testingError(9999); !errors.Is(err, ErrUnknownCode) {
		t.Errorf("unknown code: %v", err)
	}
}

func TestBadInputGivesTypedErrorsAndNothingIsLost(t *testing.T) {
	env, err := NewJSONEnvelope("", false)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	cases := []struct {
		frame  string
		reason string
		want   error
	}{
		{`{"tracewire":{"traceparent":"00-zz"},"x":1}`, "invalid traceparent", ErrInvalidTraceParent},
		{`{"tracewire":{"traceparent":7}}`, "traceparent not a string", ErrInvalidEnvelope},
	}
	for _, c := range cases {
		frame := []byte(c.frame)
		ctx, payload, err := env.Extract(t.Context(), frame)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.reason, err, c.want)
		}
		if !bytes.Equal(payload, frame) || ctx != t.Context() {
			t.Errorf("%s: payload %q or context changed", c.reason, payload)
		}
	}
	// Not well-formed JSON carries no envelope: delivered as it came.
	truncated := []byte(`{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},`)
	if d := env.Decode(truncated); d.Outcome != Plain || !bytes.Equal(d.Payload, truncated) {
		t.Errorf("truncated JSON: %+v", d)
	}
	// Version 1 has no length: it cannot be skipped, the frame is kept.
	bin := []byte{0xF5, 0x54, 0x57, 1, 0, 'x'}
	_, payload, err := ExtractBinary(t.Context(), bin)
	if !errors.Is(err, ErrUnsupportedEnvelopeVersion) || !bytes.Equal(payload, bin) {
		t.Errorf("binary: %v %x", err, payload)
	}
	if _, err := NewJSONEnvelope("a..b", false); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad path: %v", err)
	}
	if _, err := ParseModel("session"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad model: %v", err)
	}
	if _, err := Restore(t.Context(), []byte{1, 2, 3}); !errors.Is(err, ErrInvalidEnvelope) {
		t.Errorf("bad carrier: %v", err)
	}
	notObject := []byte(`[1,2]`)
	out, err := env.Inject(sampledContext(t), notObject)
	if !errors.Is(err, ErrNotJSONObject) || !bytes.Equal(out, notObject) {
		t.Errorf("inject into array: %v %q", err, out)
	}
	// Invalid UTF-8 never crashes: a bad traceparent, a plain frame.
	if _, err := ParseTraceParent("\xff\xfe"); !errors.Is(err, ErrInvalidTraceParent) {
		t.Errorf("utf8: %v", err)
	}
	if d := env.Decode([]byte("\xff{")); d.Outcome != Plain || string(d.Payload) != "\xff{" {
		t.Errorf("utf8 frame: %+v", d)
	}
}

func TestClosedObjectsFailCleanly(t *testing.T) {
	env, err := NewJSONEnvelope("", false)
	if err != nil {
		t.Fatal(err)
	}
	env.Close()
	env.Close()
	frame := []byte(`{"a":1}`)
	if _, p, err := env.Extract(t.Context(), frame); !errors.Is(err, ErrInvalidArgument) || !bytes.Equal(p, frame) {
		t.Errorf("extract after close: %v", err)
	}
	conn, err := NewConnection(ConnectionInfo{Model: ModelMessage, Role: RoleClient, SessionID: "s", URLPath: "/"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	conn.Close()
	if _, err := conn.Open(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("open after close: %v", err)
	}
}
