package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"sigs.k8s.io/yaml"
)

// defaultConfigFile is read when --config is not given and the file exists.
const defaultConfigFile = "/etc/kserver/config.yaml"

// loadConfig fills every flag the user did not set on the command line from
// KSERVER_<FLAG> environment variables, then from the config file (keys are
// flag names). Values go through the flag's own parser, so a bad value is
// reported with the flag's name whatever its source. Unknown config keys are
// an error. Precedence: command line > environment > config file > default.
// loadAndValidate is a command's PreRunE: it reads the config file and
// environment into the flags, then runs each check, before any state is
// touched.
func loadAndValidate(checks ...func() error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := loadConfig(cmd); err != nil {
			return err
		}
		for _, check := range checks {
			if err := check(); err != nil {
				return err
			}
		}
		return nil
	}
}

func loadConfig(cmd *cobra.Command) error {
	flags := cmd.Flags()
	path, _ := flags.GetString("config")
	explicit := flags.Changed("config")
	if !explicit {
		if env := os.Getenv("KSERVER_CONFIG"); env != "" {
			path, explicit = env, true
		}
	}

	v := viper.New()
	v.SetEnvPrefix("KSERVER")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()

	fileKeys := map[string]any{}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist) && !explicit:
			// The default config file is optional.
		case err != nil:
			return fmt.Errorf("config file: %w", err)
		default:
			if err := yaml.Unmarshal(data, &fileKeys); err != nil {
				return fmt.Errorf("config file %s: %w", path, err)
			}
		}
	}

	var errs []error
	keys := make([]string, 0, len(fileKeys))
	for k := range fileKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if f := flags.Lookup(k); f == nil || k == "config" {
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q", path, k))
		}
	}

	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if env := v.GetString(f.Name); os.Getenv(envName(f.Name)) != "" {
			if err := setFlag(flags, f, env); err != nil {
				errs = append(errs, fmt.Errorf("environment %s: %w", envName(f.Name), err))
			}
			return
		}
		if val, ok := fileKeys[f.Name]; ok {
			if err := setFlag(flags, f, configString(val)); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: key %q: %w", path, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

func envName(flag string) string {
	return "KSERVER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setFlag applies a value to a flag; slice flags take a comma-separated list
// and replace their default.
func setFlag(flags *pflag.FlagSet, f *pflag.Flag, val string) error {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		items := []string{}
		if val != "" {
			items = strings.Split(val, ",")
		}
		if err := sv.Replace(items); err != nil {
			return fmt.Errorf("invalid value %q for --%s: %w", val, f.Name, err)
		}
		f.Changed = true
		return nil
	}
	if err := flags.Set(f.Name, val); err != nil {
		return fmt.Errorf("invalid value %q for --%s: %w", val, f.Name, unwrapFlagError(err))
	}
	return nil
}

// unwrapFlagError drops pflag's own "invalid argument ... for ... flag:"
// prefix, which would repeat what setFlag already says.
func unwrapFlagError(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// configString turns a YAML value into the string a flag parses; lists
// become comma-separated.
func configString(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
	}
	return fmt.Sprint(v)
}
