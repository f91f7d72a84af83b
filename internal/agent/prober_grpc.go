package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	corev1 "k8s.io/api/core/v1"
)

// The gRPC health checking protocol (grpc.health.v1.Health/Check) spoken
// directly over HTTP/2 cleartext: one unary call whose request and
// response are one-field protobuf messages, so no gRPC library is needed.

// servingStatus names of grpc.health.v1.HealthCheckResponse.ServingStatus.
var servingStatus = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

const (
	grpcUnimplemented    = "12"
	grpcDeadlineExceeded = "4"
)

func (p *HostProber) grpc(ctx context.Context, t ProbeTarget, g *corev1.GRPCAction, timeout time.Duration) (ProbeResult, error) {
	addr := net.JoinHostPort(t.PodIP.String(), strconv.Itoa(int(g.Port)))
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dialIn(ctx, t.NetNS, addr, timeout)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return ProbeResult{Output: fmt.Sprintf("timeout: failed to connect service %q within %v: %+v", addr, timeout, err)}, nil
		}
		return ProbeResult{Output: fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err)}, nil
	}
	tr := &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(context.Context, string, string, *tls.Config) (net.Conn, error) { return conn, nil }}
	defer tr.CloseIdleConnections()
	var msg []byte
	if service != "" { // field 1, length-delimited
		msg = append([]byte{0x0a}, binary.AppendUvarint(nil, uint64(len(service)))...)
		msg = append(msg, service...)
	}
	body := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg)))
	body = append(body, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(body))
	if err != nil {
		return ProbeResult{}, err
	}
	req.URL = &url.URL{Scheme: "http", Host: addr, Path: "/grpc.health.v1.Health/Check"}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", "kube-probe")
	res, err := tr.RoundTrip(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ProbeResult{Output: fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)}, nil
		}
		return ProbeResult{Output: fmt.Sprintf("error: health rpc probe failed: %+v", err)}, nil
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxProbeBody))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return ProbeResult{Output: fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)}, nil
		}
		return ProbeResult{Output: fmt.Sprintf("error: health rpc probe failed: %+v", err)}, nil
	}
	code := res.Trailer.Get("Grpc-Status")
	if code == "" {
		code = res.Header.Get("Grpc-Status") // a trailers-only response
	}
	message := res.Trailer.Get("Grpc-Message") + res.Header.Get("Grpc-Message")
	switch code {
	case "0":
	case grpcUnimplemented:
		return ProbeResult{Output: "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): " + message}, nil
	case grpcDeadlineExceeded:
		return ProbeResult{Output: fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)}, nil
	default:
		return ProbeResult{Output: fmt.Sprintf("error: health rpc probe failed: rpc error: code = %s desc = %s", code, message)}, nil
	}
	status, err := healthStatus(data)
	if err != nil {
		return ProbeResult{Output: "error: health rpc probe failed: " + err.Error()}, nil
	}
	if status != 1 {
		name := servingStatus[status]
		if name == "" {
			name = strconv.FormatUint(status, 10)
		}
		return ProbeResult{Output: fmt.Sprintf("service unhealthy (responded with %q)", name)}, nil
	}
	return ProbeResult{OK: true, Output: "service healthy"}, nil
}

// healthStatus decodes one length-prefixed HealthCheckResponse message:
// field 1 (varint) is the status; unknown fields are skipped.
func healthStatus(frame []byte) (uint64, error) {
	if len(frame) < 5 || frame[0] != 0 {
		return 0, errors.New("malformed or compressed response")
	}
	n := binary.BigEndian.Uint32(frame[1:5])
	if int(n) > len(frame)-5 {
		return 0, errors.New("short response")
	}
	msg := frame[5 : 5+n]
	var status uint64
	for len(msg) > 0 {
		key, k := binary.Uvarint(msg)
		if k <= 0 {
			return 0, errors.New("malformed response")
		}
		msg = msg[k:]
		switch key & 7 {
		case 0:
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return 0, errors.New("malformed response")
			}
			if key>>3 == 1 {
				status = v
			}
			msg = msg[k:]
		case 2:
			l, k := binary.Uvarint(msg)
			if k <= 0 || int(l) > len(msg)-k {
				return 0, errors.New("malformed response")
			}
			msg = msg[k+int(l):]
		default:
			return 0, errors.New("unexpected field in response")
		}
	}
	return status, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
