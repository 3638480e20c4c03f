// Command helmcheck renders the Mirror chart without a helm binary and checks
// the result.
//
//	helmcheck suite    [-root DIR] [-v]        run every case in cases.go
//	helmcheck template [-root DIR] [-f FILE]... [--set K=V]... [-name R] [-namespace NS]
//	                   [-kube-version v1.31.0] [-api-versions G/V]... [-upgrade]
//
// "template" prints the manifests like "helm template" (for debugging and for
// piping into kubeconform where that is installed).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: helmcheck suite|template [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "suite":
		os.Exit(runSuite(os.Args[2:]))
	case "template":
		os.Exit(runTemplate(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func runTemplate(args []string) int {
	fs := flag.NewFlagSet("template", flag.ExitOnError)
	root := fs.String("root", ".", "repository root")
	name := fs.String("name", "mirror", "release name")
	ns := fs.String("namespace", "default", "release namespace")
	kube := fs.String("kube-version", "v1.31.0", "Kubernetes version")
	upgrade := fs.Bool("upgrade", false, "render as an upgrade")
	var files, sets, apis listFlag
	fs.Var(&files, "f", "values file (repeatable)")
	fs.Var(&sets, "set", "key=value override (repeatable)")
	fs.Var(&apis, "api-versions", "extra API version (repeatable)")
	fs.Parse(args)
	chart, err := LoadChart(filepath.Join(*root, "helm", "mirror"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, err := chart.Render(RenderOptions{ReleaseName: *name, Namespace: *ns, KubeVersion: *kube, APIVersions: apis, IsUpgrade: *upgrade, ValueFiles: files, Set: sets})
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	fmt.Print(out.Manifest())
	return 0
}

func runSuite(args []string) int {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	root := fs.String("root", ".", "repository root")
	verbose := fs.Bool("v", false, "print passing checks too")
	fs.Parse(args)
	start := time.Now()
	r := &Report{Verbose: *verbose}

	chartDir := filepath.Join(*root, "helm", "mirror")
	chart, err := LoadChart(chartDir)
	r.Scope("chart")
	r.Check("Chart.yaml, values.yaml and templates load", err)
	if err != nil {
		return summary(r, start)
	}
	r.Expect("Chart.yaml: apiVersion v2, name, version, appVersion, kubeVersion",
		chart.Meta["apiVersion"] == "v2" && chart.Meta["name"] == "mirror" && chart.Meta["version"] != nil && chart.Meta["appVersion"] != nil && chart.Meta["kubeVersion"] != nil,
		"Chart.yaml %v", chart.Meta)
	r.Expect("NOTES.txt exists", chart.Templates["templates/NOTES.txt"] != "", "no NOTES.txt")

	// values files: documented, and overrides only use known keys.
	raw, _ := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	CheckValuesDocumented(r, "helm/mirror/values.yaml", raw)
	overrides, _ := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	overrides = append(overrides, filepath.Join(*root, "helm", "values-production.yaml"))
	for _, f := range overrides {
		rel, _ := filepath.Rel(*root, f)
		v, err := readValuesFile(f)
		r.Scope(rel)
		r.Check("parses", err)
		if err == nil {
			CheckValuesKnown(r, rel, chart.Values, v)
		}
	}

	for _, c := range cases() {
		fmt.Printf("case: %s\n", c.Name)
		before := r.Failed
		opts := RenderOptions{ReleaseName: c.Release, Namespace: c.Namespace, KubeVersion: c.KubeVersion, APIVersions: c.APIVersions, IsUpgrade: c.Upgrade, Set: c.Set}
		if opts.ReleaseName == "" {
			opts.ReleaseName = "mirror"
		}
		if opts.Namespace == "" {
			opts.Namespace = "default"
		}
		for _, f := range c.ValueFiles {
			opts.ValueFiles = append(opts.ValueFiles, filepath.Join(*root, f))
		}
		out, err := chart.Render(opts)
		r.Scope(c.Name)
		if c.ExpectError != "" {
			r.Expect("render fails with the message", err != nil && strings.Contains(err.Error(), c.ExpectError), "want error containing %q, got %v", c.ExpectError, err)
			continue
		}
		r.Check("renders", err)
		if err != nil {
			continue
		}
		_, notesErr := out.Files["mirror/templates/NOTES.txt"]
		r.Expect("NOTES.txt renders", notesErr, "NOTES.txt missing from the render")
		rel := CheckRelease(r, out, opts.Namespace)
		if c.Expect != nil {
			r.Scope(c.Name)
			c.Expect(r, rel)
		}
		if r.Failed > before {
			fmt.Printf("  (%d failures in this case)\n", r.Failed-before)
		}
	}
	return summary(r, start)
}

func summary(r *Report, start time.Time) int {
	fmt.Printf("checked in %.2fs\n", time.Since(start).Seconds())
	fmt.Printf("helm: %d passed, %d failed\n", r.Passed, r.Failed)
	if r.Failed > 0 {
		return 1
	}
	return 0
}
