package verdict

import "fmt"

// Kind says what differs.
type Kind int

// Kinds of difference.
const (
	KindFile        Kind = iota + 1 // a file or member whose differences are its children
	KindSection                     // an executable section whose differences are its children
	KindAdded                       // present only in the shipped artifact
	KindRemoved                     // present only in the rebuilt artifact
	KindDuplicate                   // a name that repeats a different number of times
	KindFormat                      // the file format differs (gzip vs zip, ELF vs text, …)
	KindType                        // member type (file, dir, symlink, …)
	KindMode                        // permission, setuid/setgid/sticky bits
	KindLink                        // symlink or hard-link target
	KindOwner                       // uid, gid, owner names
	KindMtime                       // member times
	KindOrder                       // member order
	KindCompression                 // compression method, level or compressed bytes
	KindHeader                      // compressed-stream header field (gzip)
	KindMetadata                    // any other metadata field
	KindContent                     // content differs (summary of a leaf with no finer structure)
	KindBuildInfo                   // a Go build-info field
	KindText                        // lines of text
	KindBytes                       // byte ranges
	KindTimestamp                   // PE COFF timestamp
	KindChecksum                    // PE optional-header checksum
	KindSignature                   // Authenticode signature
	KindGroup                       // a group of differences of one sort (functions, strings, sections), a place
	KindFunction                    // a function of an executable (see the node's change)
	KindObject                      // a named data object of an executable
	KindString                      // a string literal one executable holds and the other does not
	KindData                        // data no object names, compared as words
	KindField                       // a field of a package's metadata (a Debian control file)
)

var kindNames = map[Kind]string{
	KindFile: "file", KindSection: "section", KindAdded: "added", KindRemoved: "removed",
	KindDuplicate: "duplicate", KindFormat: "format", KindType: "type", KindMode: "mode",
	KindLink: "link", KindOwner: "owner", KindMtime: "mtime", KindOrder: "order",
	KindCompression: "compression", KindHeader: "header", KindMetadata: "metadata",
	KindContent: "content", KindBuildInfo: "buildinfo", KindText: "text",
	KindBytes: "bytes", KindTimestamp: "pe-timestamp", KindChecksum: "pe-checksum",
	KindSignature: "signature", KindGroup: "group", KindFunction: "function", KindObject: "object",
	KindString: "string", KindData: "data", KindField: "field",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) {
	s, ok := kindNames[k]
	if !ok {
		return nil, fmt.Errorf("marshal kind: invalid value %d", int(k))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	for v, s := range kindNames {
		if s == string(b) {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("unmarshal kind: unknown kind %q", b)
}
