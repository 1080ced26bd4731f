package cli

import (
	"bytes"
	"testing"
	"text/template"
)

// Numbers reach templates as docker prints them: whole numbers whole,
// comparable with ints; fractions stay fractions.
func TestTemplateDataKeepsWholeNumbers(t *testing.T) {
	data := templateData([]byte(`{"HostConfig":{"Memory":134217728,"NanoCpus":1500000000},"State":{"Pid":42},"Ratio":0.5,"List":[1,2.5]}`))
	tmpl := template.Must(template.New("t").Parse(`{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{if gt .State.Pid 0}}running{{end}} {{.Ratio}} {{index .List 0}} {{index .List 1}}`))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "134217728 1500000000 running 0.5 1 2.5"; got != want {
		t.Errorf("template output %q, want %q", got, want)
	}
}
