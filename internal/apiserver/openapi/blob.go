package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"
)

// blob is one encoded document. Only its gzip-compressed bytes are kept;
// most clients accept gzip and get them as they are.
type blob struct {
	gz   []byte
	size int    // uncompressed length
	hash string // uppercase hex SHA-512 of the uncompressed bytes
}

// etag is the quoted entity tag of the document.
func (b *blob) etag() string { return `"` + b.hash + `"` }

// bytes returns the uncompressed document.
func (b *blob) bytes() ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, b.size))
	if err := b.writeTo(buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeTo writes the uncompressed document to w.
func (b *blob) writeTo(w io.Writer) error {
	r, err := gzip.NewReader(bytes.NewReader(b.gz))
	if err != nil {
		return fmt.Errorf("decompress document: %w", err)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("decompress document: %w", err)
	}
	return nil
}

// newBlob compresses and hashes a whole document.
func newBlob(doc []byte) (*blob, error) {
	w := newBlobWriter()
	_, _ = w.Write(doc)
	return w.close()
}

// blobWriter compresses and hashes a document while it is written, so the
// uncompressed document never exists as one buffer.
type blobWriter struct {
	h       hash.Hash
	out     bytes.Buffer
	gz      *gzip.Writer
	n       int
	scratch bytes.Buffer
	enc     *json.Encoder
	err     error
}

func newBlobWriter() *blobWriter {
	w := &blobWriter{h: sha512.New()}
	w.gz, _ = gzip.NewWriterLevel(&w.out, gzip.BestCompression)
	w.enc = json.NewEncoder(&w.scratch)
	w.enc.SetEscapeHTML(false)
	return w
}

func (w *blobWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.h.Write(p)
	w.n += len(p)
	if _, err := w.gz.Write(p); err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

// str writes literal JSON text.
func (w *blobWriter) str(s string) { _, _ = io.WriteString(w, s) }

// json writes the JSON encoding of v.
func (w *blobWriter) json(v any) {
	if w.err != nil {
		return
	}
	w.scratch.Reset()
	if err := w.enc.Encode(v); err != nil {
		w.err = fmt.Errorf("encode document: %w", err)
		return
	}
	_, _ = w.Write(bytes.TrimSuffix(w.scratch.Bytes(), []byte("\n")))
}

// proto writes the protobuf encoding of m.
func (w *blobWriter) proto(m proto.Message) {
	if w.err != nil {
		return
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(w.scratch.AvailableBuffer(), m)
	if err != nil {
		w.err = fmt.Errorf("encode document: %w", err)
		return
	}
	_, _ = w.Write(b)
}

// close finishes the document.
func (w *blobWriter) close() (*blob, error) {
	if w.err != nil {
		return nil, w.err
	}
	if err := w.gz.Close(); err != nil {
		return nil, fmt.Errorf("compress document: %w", err)
	}
	return &blob{
		gz:   bytes.Clone(w.out.Bytes()),
		size: w.n,
		hash: strings.ToUpper(hex.EncodeToString(w.h.Sum(nil))),
	}, nil
}
