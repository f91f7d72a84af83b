package kctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/clientcmd"
)

// ExitError ends kctl with Code after printing Msg (if any) to stderr. exec
// uses it to pass the remote command's exit status through.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// errSilent ends kctl with exit code 1 and prints nothing more (the command
// already printed its messages).
var errSilent = &ExitError{Code: 1}

// usageError is a command-line mistake; it is printed with a pointer to the
// command's help, like kubectl's UsageErrorf.
func usageError(cmdPath, format string, args ...any) error {
	return fmt.Errorf("%s\nSee '%s -h' for help and examples", fmt.Sprintf(format, args...), cmdPath)
}

// PrintError writes err to w the way kubectl's error handler does and
// returns the process exit code.
func PrintError(w io.Writer, err error) int {
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) && len(agg.Errors()) == 1 {
		err = agg.Errors()[0]
	}
	if err == nil {
		return 0
	}
	msg, code := errorMessage(err)
	if msg != "" {
		if !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		io.WriteString(w, msg)
	}
	return code
}

func errorMessage(err error) (string, int) {
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Msg, exit.Code
	}
	if apierrors.IsInvalid(err) {
		return invalidMessage(err), 1
	}
	if clientcmd.IsConfigurationInvalid(err) {
		return multilineError("Error in configuration: ", err), 1
	}
	var noMatch *meta.NoResourceMatchError
	if errors.As(err, &noMatch) {
		return noResourceMessage(noMatch), 1
	}
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		return multipleErrors("", agg.Errors()), 1
	}
	if msg, ok := standardMessage(err); ok {
		return msg, 1
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	return msg, 1
}

func noResourceMessage(e *meta.NoResourceMatchError) string {
	r := e.PartialResource
	switch {
	case r.Group != "" && r.Version != "":
		return fmt.Sprintf("error: the server doesn't have a resource type %q in group %q and version %q", r.Resource, r.Group, r.Version)
	case r.Group != "":
		return fmt.Sprintf("error: the server doesn't have a resource type %q in group %q", r.Resource, r.Group)
	case r.Version != "":
		return fmt.Sprintf("error: the server doesn't have a resource type %q in version %q", r.Resource, r.Version)
	}
	return fmt.Sprintf("error: the server doesn't have a resource type %q", r.Resource)
}

func invalidMessage(err error) string {
	var se apierrors.APIStatus
	errors.As(err, &se)
	st := se.Status()
	s := "The request is invalid"
	if st.Details == nil {
		if st.Message != "" {
			s += ": " + st.Message
		}
		return s
	}
	if st.Details.Kind != "" || st.Details.Name != "" {
		s = fmt.Sprintf("The %s %q is invalid", st.Details.Kind, st.Details.Name)
	} else if st.Message != "" && len(st.Details.Causes) == 0 {
		s += ": " + st.Message
	}
	if len(st.Details.Causes) == 0 {
		return s
	}
	var errs []error
	for _, c := range st.Details.Causes {
		errs = append(errs, fmt.Errorf("%s: %s", c.Field, c.Message))
	}
	return multilineError(s+": ", utilerrors.NewAggregate(errs))
}

// standardMessage formats API and transport errors: "Error from server
// (Reason): ...", the connection-refused sentence and so on.
func standardMessage(err error) (string, bool) {
	// Like kubectl, only an unwrapped API status counts: a command that
	// wraps one ("error when creating ...") prints it as a plain error.
	if st, ok := err.(apierrors.APIStatus); ok {
		s := st.Status()
		switch {
		case s.Reason == metav1.StatusReasonUnauthorized:
			return fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message), true
		case s.Reason != "":
			return fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error()), true
		default:
			return fmt.Sprintf("Error from server: %s", err.Error()), true
		}
	}
	if apierrors.IsUnexpectedObjectError(err) {
		return "Server returned an unexpected response: " + err.Error(), true
	}
	if ue, ok := err.(*url.Error); ok {
		if strings.Contains(ue.Err.Error(), "connection refused") {
			host := ue.URL
			if u, perr := url.Parse(ue.URL); perr == nil {
				host = u.Host
			}
			return fmt.Sprintf("The connection to the server %s was refused - did you specify the right host or port?", host), true
		}
		return fmt.Sprintf("Unable to connect to the server: %v", ue.Err), true
	}
	return "", false
}

func messageFor(err error) string {
	if m, ok := standardMessage(err); ok {
		return m
	}
	return err.Error()
}

func multilineError(prefix string, err error) string {
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		return fmt.Sprintf("%s%s\n", prefix, err)
	}
	errs := utilerrors.Flatten(agg).Errors()
	switch len(errs) {
	case 0:
		return fmt.Sprintf("%s%v\n", prefix, err)
	case 1:
		return fmt.Sprintf("%s%v\n", prefix, messageFor(errs[0]))
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, prefix)
	for _, e := range errs {
		fmt.Fprintf(&b, "* %v\n", messageFor(e))
	}
	return b.String()
}

func multipleErrors(prefix string, errs []error) string {
	var b bytes.Buffer
	for _, e := range errs {
		fmt.Fprintf(&b, "%s%v\n", prefix, messageFor(e))
	}
	return b.String()
}
