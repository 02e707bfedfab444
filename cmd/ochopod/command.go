package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Exit statuses of a command that cannot run, as a shell gives them.
const (
	exitNotExecutable = 126
	exitNotFound      = 127
)

// commandError is a command that cannot be started: `ochopod run` says why and exits with code, before it
// registers anything.
type commandError struct {
	code int
	msg  string
}

func (e commandError) Error() string { return e.msg }

// checkCommand finds argv[0] as the start of the process will: in PATH when the name has no slash, else
// relative to the working directory (--cwd). Not there: 127; there but not an executable file: 126. A shell
// command (--shell) is the shell's to find.
func checkCommand(argv []string, cwd string, shell bool, path string) error {
	if len(argv) == 0 || shell {
		return nil
	}
	name := argv[0]
	if !strings.Contains(name, "/") {
		found := false
		for _, dir := range filepath.SplitList(path) {
			if dir == "" {
				dir = "."
			}
			switch err := executable(filepath.Join(dir, name)); {
			case err == nil:
				return nil
			case !errors.Is(err, fs.ErrNotExist):
				found = true
			}
		}
		if found {
			return commandError{exitNotExecutable, fmt.Sprintf("%s: found in PATH but not an executable file", name)}
		}
		return commandError{exitNotFound, fmt.Sprintf("%s: command not found in PATH (%s)", name, path)}
	}
	full := name
	if !filepath.IsAbs(name) && cwd != "" {
		full = filepath.Join(cwd, name)
	}
	switch err := executable(full); {
	case errors.Is(err, fs.ErrNotExist):
		return commandError{exitNotFound, fmt.Sprintf("%s: no such file", name)}
	case err != nil:
		return commandError{exitNotExecutable, fmt.Sprintf("%s: %v", name, err)}
	}
	return nil
}

// executable checks that p is a regular file someone may execute (the exec itself decides for us).
func executable(p string) error {
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case st.IsDir():
		return errors.New("is a directory")
	case st.Mode()&0o111 == 0:
		return errors.New("permission denied: not executable")
	}
	return nil
}
