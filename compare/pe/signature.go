package pe

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // Authenticode digests: register the hashes
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/digitorus/pkcs7"

	"github.com/reprove/reprove/compare/report"
)

const maxCertTable = 16 << 20

var oidSHA1 = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
var oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
var oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
var oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

type spcIndirectData struct {
	Data          asn1.RawValue
	MessageDigest struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
}

// ReadSignature parses the first WIN_CERTIFICATE of a signed image.
func ReadSignature(ra io.ReaderAt, l *Layout) (*report.Signature, error) {
	if !l.Signed() {
		return nil, errors.New("read authenticode signature: image is not signed")
	}
	if l.CertSize > maxCertTable || l.CertSize < 8 {
		return nil, fmt.Errorf("read authenticode signature: certificate table of %d bytes", l.CertSize)
	}
	tab := make([]byte, l.CertSize)
	if _, err := ra.ReadAt(tab, l.CertOff); err != nil {
		return nil, fmt.Errorf("read authenticode signature: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(tab))
	typ := binary.LittleEndian.Uint16(tab[6:])
	if n < 8 || n > l.CertSize {
		return nil, fmt.Errorf("read authenticode signature: WIN_CERTIFICATE length %d outside a %d-byte table", n, l.CertSize)
	}
	if typ != 2 { // WIN_CERT_TYPE_PKCS_SIGNED_DATA
		return nil, fmt.Errorf("read authenticode signature: certificate type %d is not PKCS#7 signed data", typ)
	}
	p7, err := pkcs7.Parse(tab[8:n])
	if err != nil {
		return nil, fmt.Errorf("read authenticode signature: parse PKCS#7: %w", err)
	}
	s := &report.Signature{}
	if cert := p7.GetOnlySigner(); cert != nil {
		s.Signer, s.Issuer, s.Serial = cert.Subject.String(), cert.Issuer.String(), cert.SerialNumber.String()
	} else if len(p7.Certificates) > 0 {
		s.Signer = p7.Certificates[0].Subject.String() + " (one of several certificates)"
	}
	// pkcs7 keeps the content without its outer SEQUENCE tag and length
	// (which is also what Authenticode signs); put them back to decode it.
	wrapped, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: p7.Content})
	if err != nil {
		return nil, fmt.Errorf("read authenticode signature: %w", err)
	}
	var ind spcIndirectData
	if _, err := asn1.Unmarshal(wrapped, &ind); err != nil {
		s.Problem = "signed content is not SpcIndirectDataContent"
		return s, nil
	}
	alg := ind.MessageDigest.Algorithm.Algorithm
	var h crypto.Hash
	switch {
	case alg.Equal(oidSHA1):
		h, s.DigestAlgorithm = crypto.SHA1, "sha1"
	case alg.Equal(oidSHA256):
		h, s.DigestAlgorithm = crypto.SHA256, "sha256"
	case alg.Equal(oidSHA384):
		h, s.DigestAlgorithm = crypto.SHA384, "sha384"
	case alg.Equal(oidSHA512):
		h, s.DigestAlgorithm = crypto.SHA512, "sha512"
	default:
		s.Problem = fmt.Sprintf("unknown digest algorithm %v", alg)
		return s, nil
	}
	s.Digest = hex.EncodeToString(ind.MessageDigest.Digest)
	got, err := ImageHash(ra, l, h)
	if err != nil {
		return nil, err
	}
	s.DigestMatches = bytes.Equal(got, ind.MessageDigest.Digest)
	if !s.DigestMatches {
		s.Problem = "the signed image hash does not match this image"
	}
	if err := p7.Verify(); err != nil {
		s.Problem = join(s.Problem, "signature does not verify: "+err.Error())
	} else {
		s.SignatureValid = true
	}
	return s, nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// ImageHash computes the Authenticode hash of the image: every byte before
// the certificate table except the checksum and the certificate directory
// entry. (The specification hashes sections in address order; for images
// whose sections follow one another in the file, as linkers write them,
// that is the same stream.)
func ImageHash(ra io.ReaderAt, l *Layout, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("hash pe image: %v unavailable", h)
	}
	w := h.New()
	r, _ := View(ra, &Layout{Size: l.Size, TimestampOff: l.TimestampOff, CertDirOff: l.CertDirOff, CertOff: l.CertOff, CertSize: l.CertSize}, Strip{Signature: true})
	// View zeroes the skipped fields; Authenticode omits them instead.
	var pos int64
	skip := []patch{{l.ChecksumOff, 4}, {l.CertDirOff, 8}}
	for _, p := range skip {
		if p.off <= 0 || p.off < pos {
			continue
		}
		if _, err := io.CopyN(w, r, p.off-pos); err != nil {
			return nil, fmt.Errorf("hash pe image: %w", err)
		}
		if _, err := io.CopyN(io.Discard, r, p.n); err != nil {
			return nil, fmt.Errorf("hash pe image: %w", err)
		}
		pos = p.off + p.n
	}
	if _, err := io.Copy(w, r); err != nil {
		return nil, fmt.Errorf("hash pe image: %w", err)
	}
	return w.Sum(nil), nil
}
