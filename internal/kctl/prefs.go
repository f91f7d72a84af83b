package kctl

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/viper"
)

// Prefs are kctl's own preferences, read by viper from
// ~/.config/kctl/config.yaml and KCTL_* environment variables. They change
// only what kctl adds on top of kubectl's behaviour; with the defaults kctl
// prints exactly what kubectl prints.
type Prefs struct {
	// Hints adds learner hints ("did you mean", pointers to `kctl why`) to
	// error messages on stderr. Default true.
	Hints bool
	// Color is "never" (default), "auto" or "always": colour for warnings and
	// learner hints.
	Color string
	// Output is a default for -o on `get` when none is given ("" = table).
	Output string
	// File is the preferences file that was read, "" if none.
	File string
}

// LoadPrefs reads the preferences file in dir (if present) and the KCTL_*
// environment. A malformed file is an error naming the file.
func LoadPrefs(dir string) (*Prefs, error) {
	v := viper.New()
	v.SetDefault("hints", true)
	v.SetDefault("color", "never")
	v.SetDefault("output", "")
	v.SetEnvPrefix("KCTL")
	v.AutomaticEnv()
	p := &Prefs{}
	file := filepath.Join(dir, "config.yaml")
	if _, err := os.Stat(file); err == nil {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("reading kctl preferences %s: %w", file, err)
		}
		p.File = file
	}
	p.Hints = v.GetBool("hints")
	p.Color = v.GetString("color")
	p.Output = v.GetString("output")
	switch p.Color {
	case "never", "auto", "always":
	default:
		return nil, fmt.Errorf("kctl preferences: color must be never, auto or always, not %q", p.Color)
	}
	return p, nil
}
