package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrReplaced is a SQLite database file that was removed or replaced while
// the centre had it open: what it writes would go to a file nobody will
// read again (or beside another log's), so it refuses to write.
var ErrReplaced = errors.New("the database file was removed or replaced while the centre had it open")

// Unavailable reports whether err is a fault of the storage rather than of
// the request: a full disk, a read-only or failing file system, a database
// that is down, unreachable, out of connections or busy, a database file
// removed or replaced. The centre answers those 503 (retry later) and
// reports them on /healthz, rather than 500.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrReplaced) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) >= 2 {
		// Connection exceptions (08), insufficient resources such as a
		// full disk (53), operator intervention such as a shutdown (57),
		// system errors such as I/O (58).
		switch pe.Code[:2] {
		case "08", "53", "57", "58":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// fileIdentity remembers which file a path named when the store opened it.
type fileIdentity struct {
	path string
	info os.FileInfo
}

func identify(path string) (*fileIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &fileIdentity{path: path, info: fi}, nil
}

// check fails when the path no longer names the file opened.
func (f *fileIdentity) check() error {
	if f == nil {
		return nil
	}
	fi, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrReplaced, f.path, err)
	}
	if !os.SameFile(fi, f.info) {
		return fmt.Errorf("%w: %s is another file now", ErrReplaced, f.path)
	}
	return nil
}
