package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// archiveEntry is one file of a release archive: its name in the archive, the
// file it is read from, and its mode.
type archiveEntry struct {
	Name string
	Src  string
	Mode os.FileMode
}

// A fixed time keeps archives byte-reproducible (krew does not keep mtimes).
var archiveTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// writeArchive writes entries to out as .tar.gz or .zip by out's extension,
// the two formats krew installs.
func writeArchive(out string, entries []archiveEntry) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	switch {
	case strings.HasSuffix(out, ".tar.gz"):
		return writeTarGz(f, entries)
	case strings.HasSuffix(out, ".zip"):
		return writeZip(f, entries)
	}
	return fmt.Errorf("%s: krew installs .tar.gz and .zip archives only", out)
}

func writeTarGz(w io.Writer, entries []archiveEntry) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		b, err := os.ReadFile(e.Src)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: e.Name, Mode: int64(e.Mode.Perm()), Size: int64(len(b)),
			ModTime: archiveTime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, entries []archiveEntry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		b, err := os.ReadFile(e.Src)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: archiveTime}
		hdr.SetMode(e.Mode.Perm())
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(b); err != nil {
			return err
		}
	}
	return zw.Close()
}
