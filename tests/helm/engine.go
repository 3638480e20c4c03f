package main

// A small stand-in for "helm template": enough of Helm's rendering engine for
// this chart. It follows Helm 3's behaviour where the chart could notice:
//
//   - all templates (partials included) are parsed into one set, named
//     "<chart>/templates/<file>", so "define" blocks are global;
//   - missingkey=zero, and the literal "<no value>" is removed from output;
//   - values: values.yaml, then each -f file, then --set, coalesced the way
//     Helm does (maps merge, a null deletes the key); numbers from YAML files
//     are float64 (Helm decodes through JSON), --set integers are int64;
//   - functions: Sprig minus env/expandenv, plus include, tpl, required,
//     toYaml, fromYaml, fromYamlArray, toJson, fromJson, lookup (always empty);
//   - .Release, .Chart (capitalised Chart.yaml fields), .Capabilities
//     (KubeVersion, APIVersions.Has), .Files (Get, GetBytes, Glob, Lines),
//     .Template (Name, BasePath);
//   - Chart.yaml's kubeVersion constraint is checked against the target version.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

// Chart is a chart directory loaded from disk.
type Chart struct {
	Dir       string
	Meta      map[string]interface{} // Chart.yaml as parsed
	Values    map[string]interface{} // values.yaml
	Templates map[string]string      // "templates/x.yaml" -> source
	Files     Files                  // every non-template file, by relative path
}

// RenderOptions are the knobs of "helm template" that the tests use.
type RenderOptions struct {
	ReleaseName string
	Namespace   string
	KubeVersion string   // e.g. "v1.31.0"
	APIVersions []string // extra group/versions served (e.g. monitoring.coreos.com/v1)
	IsUpgrade   bool
	ValueFiles  []string
	Set         []string
}

// Rendered is the output of one render: file name -> text, plus the final values.
type Rendered struct {
	Files  map[string]string
	Values map[string]interface{}
}

// ---------------------------------------------------------------- loading

func LoadChart(dir string) (*Chart, error) {
	c := &Chart{Dir: dir, Templates: map[string]string{}, Files: Files{}}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(raw, &c.Meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	c.Values, err = readValuesFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			c.Templates[rel] = string(b)
		} else if rel != "Chart.yaml" {
			c.Files[rel] = b
		}
		return nil
	})
	return c, err
}

func (c *Chart) Name() string { return fmt.Sprint(c.Meta["name"]) }

// readValuesFile reads YAML values the way Helm sees them (numbers as float64).
func readValuesFile(p string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var v map[string]interface{}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if v == nil {
		v = map[string]interface{}{}
	}
	return normalizeNumbers(v).(map[string]interface{}), nil
}

func normalizeNumbers(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
		return t
	case []interface{}:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return v
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// coalesce merges src over dst: maps merge recursively, null deletes a key.
func coalesce(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			if _, ok := dst[k]; ok {
				delete(dst, k)
			}
			continue
		}
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				coalesce(dm, sm)
				continue
			}
		}
		dst[k] = deepCopy(v)
	}
}

// parseSet applies one --set expression: a.b\.c=value[,x=y]. Values are typed
// like Helm's strvals: true/false, null, integers (int64), else strings.
func parseSet(vals map[string]interface{}, expr string) error {
	for _, part := range splitUnescaped(expr, ',') {
		eq := strings.Index(part, "=")
		if eq <= 0 {
			return fmt.Errorf("--set %q: expected key=value", part)
		}
		keys := splitUnescaped(part[:eq], '.')
		raw := part[eq+1:]
		var val interface{}
		switch {
		case raw == "true":
			val = true
		case raw == "false":
			val = false
		case raw == "null":
			val = nil
		default:
			if i, err := strconv.ParseInt(raw, 10, 64); err == nil && (raw == "0" || !strings.HasPrefix(raw, "0")) {
				val = i
			} else {
				val = raw
			}
		}
		m := vals
		for i, k := range keys {
			k = strings.ReplaceAll(k, `\.`, ".")
			k = strings.ReplaceAll(k, `\,`, ",")
			if i == len(keys)-1 {
				if val == nil {
					delete(m, k)
				} else {
					m[k] = val
				}
				break
			}
			next, ok := m[k].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				m[k] = next
			}
			m = next
		}
	}
	return nil
}

func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// ---------------------------------------------------------------- built-in objects

// Files mirrors Helm's .Files.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, b := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = b
		}
	}
	return out
}
func (f Files) Lines(name string) []string {
	s := strings.TrimSuffix(string(f[name]), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// KubeVersion mirrors .Capabilities.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

// VersionSet mirrors .Capabilities.APIVersions.
type VersionSet []string

// Has answers "group/version" or "group/version/Kind".
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities mirrors .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// builtinAPIVersions is what a plain cluster of the target version serves.
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"v1/Service", "v1/ConfigMap", "v1/Secret", "v1/ServiceAccount", "v1/PersistentVolumeClaim",
	"apps/v1/Deployment", "apps/v1/StatefulSet", "batch/v1/Job", "policy/v1/PodDisruptionBudget",
	"autoscaling/v2/HorizontalPodAutoscaler", "networking.k8s.io/v1/Ingress",
}

func chartObject(meta map[string]interface{}) map[string]interface{} {
	// Helm exposes chart.Metadata, whose Go field names are capitalised.
	special := map[string]string{"apiVersion": "APIVersion", "appVersion": "AppVersion", "kubeVersion": "KubeVersion"}
	out := map[string]interface{}{}
	for k, v := range meta {
		name, ok := special[k]
		if !ok {
			name = strings.ToUpper(k[:1]) + k[1:]
		}
		out[name] = v
	}
	if _, ok := out["AppVersion"]; !ok {
		out["AppVersion"] = ""
	}
	return out
}

// ---------------------------------------------------------------- rendering

// RenderError is a failed render (template error, required, fail).
type RenderError struct{ Msg string }

func (e *RenderError) Error() string { return e.Msg }

func (c *Chart) Render(o RenderOptions) (*Rendered, error) {
	vals := deepCopy(c.Values).(map[string]interface{})
	for _, f := range o.ValueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return nil, err
		}
		coalesce(vals, v)
	}
	for _, s := range o.Set {
		if err := parseSet(vals, s); err != nil {
			return nil, err
		}
	}

	kv := o.KubeVersion
	if kv == "" {
		kv = "v1.31.0"
	}
	sv, err := semver.NewVersion(kv)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", kv, err)
	}
	if con, ok := c.Meta["kubeVersion"].(string); ok && con != "" {
		cons, err := semver.NewConstraint(con)
		if err != nil {
			return nil, fmt.Errorf("Chart.yaml kubeVersion %q: %w", con, err)
		}
		if !cons.Check(sv) {
			return nil, &RenderError{fmt.Sprintf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", con, kv)}
		}
	}
	caps := &Capabilities{
		KubeVersion: KubeVersion{Version: kv, Major: strconv.FormatUint(sv.Major(), 10), Minor: strconv.FormatUint(sv.Minor(), 10)},
		APIVersions: append(append(VersionSet{}, builtinAPIVersions...), o.APIVersions...),
		HelmVersion: map[string]string{"Version": "v3.16.0"},
	}
	release := map[string]interface{}{
		"Name": o.ReleaseName, "Namespace": o.Namespace, "Service": "Helm",
		"IsInstall": !o.IsUpgrade, "IsUpgrade": o.IsUpgrade, "Revision": 1,
	}
	if o.IsUpgrade {
		release["Revision"] = 2
	}
	top := map[string]interface{}{
		"Values":       vals,
		"Release":      release,
		"Chart":        chartObject(c.Meta),
		"Capabilities": caps,
		"Files":        c.Files,
	}

	root := template.New("gotpl").Option("missingkey=zero")
	funcs := funcMap(root)
	root.Funcs(funcs)

	names := make([]string, 0, len(c.Templates))
	for rel := range c.Templates {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		full := c.Name() + "/" + rel
		if _, err := root.New(full).Parse(c.Templates[rel]); err != nil {
			return nil, &RenderError{fmt.Sprintf("parse error: %v", err)}
		}
	}

	out := &Rendered{Files: map[string]string{}, Values: vals}
	for _, rel := range names {
		base := path.Base(rel)
		if strings.HasPrefix(base, "_") {
			continue // partials only define templates
		}
		full := c.Name() + "/" + rel
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": full, "BasePath": c.Name() + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, full, data); err != nil {
			return nil, &RenderError{cleanTemplateError(err)}
		}
		out.Files[full] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

var errPrefix = regexp.MustCompile(`^template: [^:]+:\d+:\d+: executing "[^"]+" at <[^>]*>: error calling [a-z]+: `)

// cleanTemplateError strips Go's location prefix the way Helm shows "required"/"fail" messages.
func cleanTemplateError(err error) string {
	msg := err.Error()
	for {
		stripped := errPrefix.ReplaceAllString(msg, "")
		if stripped == msg {
			return msg
		}
		msg = stripped
	}
}

func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")

	includedNames := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, fmt.Errorf("%s", msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	f["toYaml"] = func(v interface{}) string {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(jsonRoundTrip(v)); err != nil {
			return ""
		}
		enc.Close()
		return strings.TrimSuffix(buf.String(), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil // "helm template" has no cluster
	}
	return f
}

// jsonRoundTrip makes toYaml see what Helm's sigs.k8s.io/yaml sees: JSON types.
func jsonRoundTrip(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// ---------------------------------------------------------------- documents

// Doc is one rendered YAML document.
type Doc struct {
	Source string
	Index  int
	Text   string
	Obj    map[string]interface{}
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// SplitDocs splits every rendered file into non-empty documents (parsing is left to the checks).
func SplitDocs(r *Rendered) []*Doc {
	var names []string
	for n := range r.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	var docs []*Doc
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		for i, part := range docSep.Split(r.Files[n], -1) {
			if isBlankYAML(part) {
				continue
			}
			docs = append(docs, &Doc{Source: n, Index: i, Text: part})
		}
	}
	return docs
}

func isBlankYAML(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// Manifest prints the render like "helm template".
func (r *Rendered) Manifest() string {
	var b strings.Builder
	for _, d := range SplitDocs(r) {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", d.Source, strings.Trim(d.Text, "\n"))
	}
	return b.String()
}
