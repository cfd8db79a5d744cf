package tracewire

/*
#cgo noescape tw_abi_version
#cgo nocallback tw_abi_version
#cgo noescape tw_testing_error
#cgo nocallback tw_testing_error
#cgo noescape tw_testing_panic
#cgo nocallback tw_testing_panic
#include "tracewire.h"
*/
import "C"

// Test-only entry points of the C ABI, so the tests can check how a panic in
// the core and an error of every code surface in Go. Unexported: not API.

func testingPanic() error { return takeError(C.tw_testing_panic()) }

func testingError(code Code) error { return takeError(C.tw_testing_error(C.uint32_t(code))) }

// cgoNoop is the cheapest C call, for measuring the raw cost of one cgo call.
func cgoNoop() uint32 { return uint32(C.tw_abi_version()) }
