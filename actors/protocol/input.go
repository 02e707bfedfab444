package protocol

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Input is msg as the input type T of a machine (a message with one oneof, as v1.SessionInput), or nil when
// T takes no such message: a machine's Handle ignores a nil input.
func Input[T proto.Message](msg any) T {
	in, _ := Wrap[T](msg)
	return in
}

// Wrap puts msg into the one field of the input type T that holds messages of its type. It reports false
// when msg is no protobuf message or T takes none of its type.
func Wrap[T proto.Message](m any) (T, bool) {
	var zero T
	msg, ok := m.(proto.Message)
	if !ok || msg == nil {
		return zero, false
	}
	in := zero.ProtoReflect().New()
	name := msg.ProtoReflect().Descriptor().FullName()
	fields := in.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.ContainingOneof() != nil && fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == name {
			in.Set(fd, protoreflect.ValueOfMessage(msg.ProtoReflect()))
			return in.Interface().(T), true
		}
	}
	return zero, false
}

// Unwrap is the message an input holds, nil when it holds none.
func Unwrap(in proto.Message) proto.Message {
	r := in.ProtoReflect()
	oneofs := r.Descriptor().Oneofs()
	if oneofs.Len() == 0 {
		return nil
	}
	fd := r.WhichOneof(oneofs.Get(0))
	if fd == nil {
		return nil
	}
	return r.Get(fd).Message().Interface()
}
