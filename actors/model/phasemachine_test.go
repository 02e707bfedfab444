package model

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rewrite regenerates the transcripts' expected lines from what the machine does (then read the diff).
var rewrite = flag.Bool("rewrite", false, "rewrite testdata/phase/*.txt with the machine's output")

// TestPhaseMachine_Transcripts replays testdata/phase/*.txt: each line that does not start with a space is an
// input, the indented lines under it are the effects the machine must answer with. Inputs:
//
//	plan <keys...> [sequential] [full] [guard] [arm] [nourl=<key>] [unknown=<key>]
//	start | guarded [fail <why>] | armed [fail <why>] | reply <index> <code> | reply <index> err <why> | over <why>
func TestPhaseMachine_Transcripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "phase", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := replay(string(raw))
			if err != nil {
				t.Fatal(err)
			}
			if *rewrite {
				if err := os.WriteFile(f, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(raw) {
				t.Errorf("%s differs (go test ./actors/model -run Transcripts -rewrite, then read the diff):\n%s", f, got)
			}
		})
	}
}

// replay runs a transcript's inputs and returns it with the machine's effects under each.
func replay(text string) (string, error) {
	var out strings.Builder
	var m *PhaseMachine
	for n, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.HasPrefix(line, " ") {
			continue // an expected effect: made again below
		}
		out.WriteString(line + "\n")
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		var effects []PhaseEffect
		switch {
		case f[0] == "plan":
			m = newPlan(f[1:])
			continue
		case m == nil:
			return "", fmt.Errorf("line %d: %q before plan", n+1, line)
		case f[0] == "start":
			effects = m.Start()
		case f[0] == "guarded":
			effects = m.Handle(PhaseGuarded{Err: failure(f[1:])})
		case f[0] == "armed":
			effects = m.Handle(PhaseArmed{Err: failure(f[1:])})
		case f[0] == "over":
			effects = m.Handle(PhaseOver{Cause: errors.New(strings.Join(f[1:], " "))})
		case f[0] == "reply" && len(f) >= 3:
			i, err := strconv.Atoi(f[1])
			if err != nil {
				return "", fmt.Errorf("line %d: %w", n+1, err)
			}
			r := PhaseReplied{Index: i, URL: "http://pod"}
			if f[2] == "err" {
				r.Err = errors.New(strings.Join(f[3:], " "))
			} else if r.Code, err = strconv.Atoi(f[2]); err != nil {
				return "", fmt.Errorf("line %d: %w", n+1, err)
			}
			effects = m.Handle(r)
		default:
			return "", fmt.Errorf("line %d: unknown input %q", n+1, line)
		}
		for _, e := range effects {
			out.WriteString("  " + render(e) + "\n")
		}
	}
	return out.String(), nil
}

func newPlan(args []string) *PhaseMachine {
	var cfg PhaseSettings
	var pods []PhasePod
	noURL := map[string]bool{}
	for _, a := range args {
		switch {
		case a == "sequential":
			cfg.Sequential = true
		case a == "full":
			cfg.FullShutdown = true
		case a == "guard":
			cfg.Guard = true
		case a == "arm":
			cfg.Arm = true
		case strings.HasPrefix(a, "nourl="):
			noURL[strings.TrimPrefix(a, "nourl=")] = true
		case strings.HasPrefix(a, "unknown="):
			pods = append(pods, PhasePod{Key: strings.TrimPrefix(a, "unknown="), URL: "http://pod"})
		default:
			pods = append(pods, PhasePod{Key: a, URL: "http://pod"})
			cfg.Known = append(cfg.Known, a)
		}
	}
	for i := range pods {
		if noURL[pods[i].Key] {
			pods[i].URL = ""
		}
	}
	return NewPhaseMachine(cfg, pods)
}

func failure(f []string) error {
	if len(f) == 0 {
		return nil
	}
	return errors.New(strings.Join(f[1:], " "))
}

func render(e PhaseEffect) string {
	switch e := e.(type) {
	case RunGuard:
		return "guard"
	case RunArm:
		return "arm"
	case Send:
		return fmt.Sprintf("send %s %s #%d", e.Task, e.Pod.Key, e.Index)
	case Drop:
		return "drop " + e.Key
	case Finish:
		err := "none"
		if e.Err != nil { // one line: the failures of a step are joined by newlines
			lines := strings.Split(e.Err.Error(), "\n")
			for i := range lines {
				lines[i] = strings.TrimSpace(lines[i])
			}
			err = strings.Join(lines, " | ")
		}
		return fmt.Sprintf("finish dropped=%v err=%s", e.Dropped, err)
	}
	return fmt.Sprintf("%T", e)
}
