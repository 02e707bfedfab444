package zkserver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// createZnode speaks just enough of ZooKeeper's wire protocol (jute encoding, length-prefixed frames) to open a
// session, create one persistent znode and close the session. It lets the restart tests prove that data survives
// without this package depending on a ZooKeeper client library.
func createZnode(addr, path string, data []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}

	// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
	var req jute
	req.int32(0)
	req.int64(0)
	req.int32(10_000)
	req.int64(0)
	req.buffer(make([]byte, 16))
	req.bool(false)
	if err := writeFrame(conn, req.Bytes()); err != nil {
		return fmt.Errorf("send connect: %w", err)
	}
	resp, err := readFrame(conn)
	if err != nil {
		return fmt.Errorf("read connect response: %w", err)
	}
	if len(resp) < 16 || binary.BigEndian.Uint64(resp[8:16]) == 0 {
		return fmt.Errorf("connect refused: %x", resp)
	}

	// RequestHeader{xid, type=create(1)} + CreateRequest{path, data, acl=[world:anyone ALL], flags=persistent}.
	var create jute
	create.int32(1)
	create.int32(1)
	create.string(path)
	create.buffer(data)
	create.int32(1)
	create.int32(31)
	create.string("world")
	create.string("anyone")
	create.int32(0)
	if err := call(conn, create.Bytes(), 1); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}

	// RequestHeader{xid, type=closeSession(-11)}.
	var closeReq jute
	closeReq.int32(2)
	closeReq.int32(-11)
	if err := call(conn, closeReq.Bytes(), 2); err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	return nil
}

// call sends a request and checks the ReplyHeader{xid, zxid, err} of the response.
func call(conn net.Conn, req []byte, xid int32) error {
	if err := writeFrame(conn, req); err != nil {
		return err
	}
	resp, err := readFrame(conn)
	if err != nil {
		return err
	}
	if len(resp) < 16 {
		return fmt.Errorf("short reply %x", resp)
	}
	if got := int32(binary.BigEndian.Uint32(resp[0:4])); got != xid {
		return fmt.Errorf("reply xid %d, want %d", got, xid)
	}
	if code := int32(binary.BigEndian.Uint32(resp[12:16])); code != 0 {
		return fmt.Errorf("ZooKeeper error code %d", code)
	}
	return nil
}

func writeFrame(w io.Writer, payload []byte) error {
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	_, err := w.Write(append(frame, payload...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes is implausible", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// jute encodes ZooKeeper's serialization primitives (big-endian, length-prefixed strings and buffers).
type jute struct{ bytes.Buffer }

func (j *jute) int32(v int32) { j.Write(binary.BigEndian.AppendUint32(nil, uint32(v))) }
func (j *jute) int64(v int64) { j.Write(binary.BigEndian.AppendUint64(nil, uint64(v))) }
func (j *jute) bool(v bool) {
	if v {
		j.WriteByte(1)
	} else {
		j.WriteByte(0)
	}
}
func (j *jute) buffer(b []byte) { j.int32(int32(len(b))); j.Write(b) }
func (j *jute) string(s string) { j.buffer([]byte(s)) }
