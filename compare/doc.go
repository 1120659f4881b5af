// Package compare decides whether a rebuilt artifact matches a shipped one and
// explains every difference.
//
// Verdicts are exact words: identical (equal digests), equivalent (equal only
// after normalizers the user named, which the verdict lists), different.
//
// The pipeline calls Files:
//
//	r, err := compare.Files(ctx, rebuilt, shipped, compare.Options{Normalizers: []string{"authenticode"}})
//
// An error means the comparison could not finish (unreadable, truncated or
// corrupt input, a limit crossed, a cancelled context) and is never a match.
// Otherwise r.Verdict is the answer, r.Normalizers the normalizers it needed,
// and r.Differences the tree of differences down to the smallest unit each
// format has: archive member and metadata field (tar with any compression,
// zip and jar, ar and Debian packages); for executables (ELF, PE, Mach-O),
// Go build-info field, function, data object, string literal and section;
// text line, byte range. The report model is package report: the JSON form
// of a report.Report (WriteJSON, schema report.SchemaVersion) is the source
// of truth and is never cut; package render turns it into text and HTML,
// which cut long lists and say so. Verdicts, kinds of difference and the
// normalizer registry are package verdict's.
//
// # Executables
//
// Functions come from the Go pclntab (stripped binaries keep it) or the
// symbol table; package exediff disassembles them and classifies each
// function and data object as identical, moved (the same once the
// addresses it refers to are mapped through each side's layout), changed,
// added or removed, and diffs the string literals as sets. Changed, added
// and removed ones, the strings and the build information are the causes
// and come first; what follows from them (moved code and data, section
// bytes, layout fields) is marked report.Node.Effect and folded by the
// renderings. The classification explains a difference; it never decides
// the verdict, which the digests and the normalizers do.
//
// # Normalizers
//
// Normalizers are named, opt-in and pure: each accepts certain kinds of
// recorded difference, nothing else. verdict.Lookup and
// verdict.NormalizerNames expose them.
//
//	archive-mtime  member modification, access and change times (tar, zip, ar)
//	archive-order  member order (never when a name repeats)
//	gzip-header    gzip header fields (mtime, name, comment, OS, extra flags)
//	pe-timestamp   the PE/COFF timestamp and the optional-header checksum
//	authenticode   an Authenticode signature: certificate table, its data
//	               directory entry, alignment padding and checksum; the signer
//	               is reported
//
// No normalizer may cover a change of file type, mode bits, link target,
// content, format or a repeated member: the registry refuses such a
// definition when the program starts.
//
// # What equivalent means
//
// Equivalent means every member's content and every metadata field a reader
// of the format exposes are equal, apart from fields an allowed normalizer
// covers. Bytes no reader of the central structure sees are accounted for
// too: a zip's local headers and any data outside its members, data after a
// tar's end-of-archive marker (zero padding excepted), ar pad bytes, and for
// PE images the whole image once the signature, checksum and timestamp are
// removed. When a format's structure explains nothing, the differing byte
// ranges are reported, and those no normalizer accepts.
//
// # Untrusted input
//
// Archives are read as streams, never extracted by member name; differing
// members are held in memory when small, else in a private directory under
// Options.TempDir that is removed before Files returns. A compressed
// stream is decompressed once when its content is at most 16 MiB (the
// scan keeps it), else twice: once to list and hash its members, once to
// keep those that differ. Differing members are compared two at a time,
// those over 4 MiB alone, and their findings joined in member order. Limits bound members,
// nesting, expanded bytes, compression ratio, decompressor windows, what
// debug/* may parse and how much code and data is held for analysis (see
// Limits). Executables are opened through internal/exefile, the hardened
// reader infer uses too.
package compare
