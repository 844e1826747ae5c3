package resolve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Errors for local files. Their messages are written for users.
var (
	ErrLocalDisabled = errors.New("local files are disabled on this bot (no media folder is configured)")
	ErrLocalAbsolute = errors.New("give a file name inside the media folder, not an absolute path")
	ErrLocalParent   = errors.New(`".." is not allowed in file names: only files inside the media folder can be played`)
	ErrLocalOutside  = errors.New("that file is outside the media folder (a link that leaves it)")
	ErrLocalNotFound = errors.New("no such file in the media folder")
	ErrLocalNotFile  = errors.New("that is a folder or a special file, not an audio file")
)

// localFile checks that name is a regular file inside mediaDir, following
// symlinks only as long as they stay inside, and returns its cleaned
// slash-separated name relative to the folder and its absolute path.
func localFile(mediaDir, name string) (rel, abs string, err error) {
	if mediaDir == "" {
		return "", "", ErrLocalDisabled
	}
	name = strings.TrimPrefix(name, "//") // "file://x" written by habit
	if name == "" {
		return "", "", ErrEmptyQuery
	}
	if strings.ContainsRune(name, 0) {
		return "", "", ErrLocalNotFound
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || filepath.IsAbs(name) || filepath.VolumeName(name) != "" {
		return "", "", ErrLocalAbsolute
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", "", ErrLocalParent
		}
	}
	rel = path.Clean(strings.ReplaceAll(name, `\`, "/"))
	root, err := filepath.EvalSymlinks(mediaDir)
	if err != nil {
		return "", "", fmt.Errorf("the media folder is not readable: %w", err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return "", "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("%w: %q", ErrLocalNotFound, rel)
		}
		return "", "", fmt.Errorf("%w: %q", ErrLocalNotFound, rel)
	}
	if !inside(root, real) {
		return "", "", ErrLocalOutside
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q", ErrLocalNotFound, rel)
	}
	if !st.Mode().IsRegular() {
		return "", "", ErrLocalNotFile
	}
	return rel, real, nil
}

// inside reports whether p is root or below it (both cleaned absolute paths).
func inside(root, p string) bool {
	if p == root {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}
