package protocol

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Name is an enum value's short name: its name without the enum's prefix, in lower case (TIMER_GRACE is
// "grace", CALLBACK_CAN_CONFIGURE "can_configure"). A value the enum does not define is its number.
func Name(e protoreflect.Enum) string {
	d := e.Descriptor()
	v := d.Values().ByNumber(e.Number())
	if v == nil {
		return strings.ToLower(string(d.Name())) + "(" + strconv.Itoa(int(e.Number())) + ")"
	}
	prefix := strings.TrimSuffix(string(d.Values().Get(0).Name()), "UNSPECIFIED")
	return strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))
}
