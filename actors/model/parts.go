package model

import (
	"context"

	"github.com/ochopod/ochopod/runtime/control"
)

// PartedBodies are Bodies that also give each body in parts, never joined (runtime/delta.Bodies): with a
// control.PartsCaller a phase then holds its cluster once, not once per pod (DESIGN §12: a leader of 1 000
// pods peaked at ~400 MiB).
type PartedBodies interface {
	Bodies
	Parts(key string) (parts [][]byte, isDelta bool, err error)
}

// post sends pod key its body for task: in parts when both the bodies and the caller can. encErr is a body
// that could not be made; err, the exchange's failure.
func (r *phaseRun) post(ctx context.Context, url string, enc Bodies, key string) (code int, reply []byte, isDelta bool, encErr, err error) {
	if pb, ok := enc.(PartedBodies); ok {
		if pc, ok := r.c.(control.PartsCaller); ok {
			parts, isDelta, encErr := pb.Parts(key)
			if encErr != nil {
				return 0, nil, false, encErr, nil
			}
			code, reply, err = pc.PostParts(ctx, url, parts...)
			return code, reply, isDelta, nil, err
		}
	}
	body, isDelta, encErr := enc.Body(key)
	if encErr != nil {
		return 0, nil, false, encErr, nil
	}
	code, reply, err = r.c.Post(ctx, url, body)
	return code, reply, isDelta, nil, err
}
