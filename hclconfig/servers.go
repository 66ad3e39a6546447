package hclconfig

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ssh"
)

// serverSchema is the body of a destination "postgres" block and of a
// source "postgres" block.
var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true},
		{Name: "port"},
		{Name: "database", Required: true},
		{Name: "user", Required: true},
		{Name: "password"},
		{Name: "max_connections"},
		{Name: "sslmode"},
		{Name: "sslrootcert"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "ssh_tunnel"}},
}

var sshTunnelSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true},
		{Name: "port"},
		{Name: "user", Required: true},
		{Name: "private_key_file"},
		{Name: "private_key"},
		{Name: "private_key_passphrase"},
		{Name: "known_hosts_file"},
		{Name: "host_key"},
	},
}

var csvSourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true},
		{Name: "header"},
		{Name: "delimiter"},
		{Name: "encoding"},
	},
}

// SSLModes are libpq's sslmode names, weakest first.
var SSLModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Defaults of docs/language.md.
const (
	DefaultPort           = 5432
	DefaultSSHPort        = 22
	DefaultMaxConnections = 1
	MaxConnectionsLimit   = 8
)

func (l *loader) decodeServers() {
	for _, b := range l.destBlocks {
		s := l.decodeServer(b, "destination")
		l.cfg.Destinations[s.Address()] = s
	}
}

func (l *loader) decodeSources() {
	for _, b := range l.sourceBlocks {
		src := &Source{Type: SourceType(b.Labels[0]), Name: b.Labels[1], DeclRange: b.DefRange}
		switch src.Type {
		case SourcePostgres:
			var content *hcl.BodyContent
			src.Server, content = l.decodeServerContent(b, "source")
			src.DBT = l.decodeDBTProject(content)
		case SourceDuckDB:
			l.decodeDuckDB(b, src)
		case SourceCSV:
			src.CSV = l.decodeCSV(b)
		}
		l.cfg.Sources[src.Address()] = src
	}
}

func (l *loader) decodeServer(b *hcl.Block, kind string) *Server {
	s, _ := l.decodeServerContent(b, kind)
	return s
}

// decodeServerContent is decodeServer that also returns the block's
// content, for the attributes a source has beyond a server's.
func (l *loader) decodeServerContent(b *hcl.Block, kind string) (*Server, *hcl.BodyContent) {
	s := &Server{
		Kind: kind, Type: b.Labels[0], Name: b.Labels[1],
		Port: DefaultPort, MaxConnections: DefaultMaxConnections, DeclRange: b.DefRange,
	}
	content, diags := b.Body.Content(serverSchemaOf(kind))
	l.addDiags(diags)
	if kind == "destination" {
		s.History = l.decodeHistory(content)
	}
	var hv attrValue
	s.Host, hv = l.str(content, "host")
	if strings.Contains(s.Host, ",") {
		// libpq and pgx read a comma as a list of hosts to try in turn:
		// a list that starts with a socket would pass for a local server
		// and send the password in plain text to the next one.
		l.errorf(hv.rng(), "Invalid host",
			"The host names more than one server (it holds a comma); rowform connects to one. Name the primary server's host alone.")
		s.Host = ""
	}
	s.Database, _ = l.str(content, "database")
	s.User, _ = l.str(content, "user")
	if p, v := l.integer(content, "port", 1, 65535); v.ok {
		s.Port = int(p)
	}
	if n, v := l.integer(content, "max_connections", 1, MaxConnectionsLimit); v.ok {
		s.MaxConnections = int(n)
	}
	if pw, v := l.str(content, "password"); v.ok {
		s.Password = NewSecret(pw)
		l.secret(pw)
		l.warnPlaintextSecret(v, "password")
		l.secretRefs(v.attr)
	}
	s.SSLMode, _ = l.oneOf(content, "sslmode", SSLModes)
	if p, v := l.str(content, "sslrootcert"); v.ok && p != "" {
		s.SSLRootCert = resolvePath(l.dir, p)
	}
	for i, tb := range content.Blocks {
		if i > 0 {
			l.errorf(tb.DefRange.Ptr(), "Duplicate ssh_tunnel block",
				"Only one ssh_tunnel block is allowed; the first is at %s.", formatPos(content.Blocks[0].DefRange))
			continue
		}
		s.SSHTunnel = l.decodeSSHTunnel(tb)
	}
	return s, content
}

// warnPlaintextSecret warns when a secret is written into the configuration
// as a literal, where it would end up in version control.
func (l *loader) warnPlaintextSecret(v attrValue, name string) {
	if v.sensitive || v.attr == nil || len(v.attr.Expr.Variables()) > 0 {
		return
	}
	d := &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  "Secret written in the configuration",
		Detail: fmt.Sprintf("The %s at %s is a literal in the configuration file, where it is visible to anyone who can read it. "+
			"Use env(\"...\") or a variable with sensitive = true instead.", name, formatPos(v.attr.NameRange)),
	}
	// A secret of four characters or more is masked in a snippet of its
	// line (it is one of Config.Secrets), so the warning points at it, as
	// CI annotations need; a shorter one would be shown, so it does not.
	if v.ok && len(strings.TrimSpace(v.val.AsString())) >= 4 {
		rng := v.attr.NameRange
		d.Subject = &rng
		d.Detail = fmt.Sprintf("The %s is a literal in the configuration file, where it is visible to anyone who can read it. "+
			"Use env(\"...\") or a variable with sensitive = true instead.", name)
	}
	l.diags = append(l.diags, d)
}

func (l *loader) decodeSSHTunnel(b *hcl.Block) *SSHTunnel {
	t := &SSHTunnel{Port: DefaultSSHPort, DeclRange: b.DefRange}
	content, diags := b.Body.Content(sshTunnelSchema)
	l.addDiags(diags)
	t.Host, _ = l.str(content, "host")
	t.User, _ = l.str(content, "user")
	if p, v := l.integer(content, "port", 1, 65535); v.ok {
		t.Port = int(p)
	}
	keyFile, kf := l.str(content, "private_key_file")
	if kf.ok && keyFile != "" {
		t.PrivateKeyFile = resolvePath(l.dir, keyFile)
	}
	if k, v := l.str(content, "private_key"); v.ok {
		t.PrivateKey = NewSecret(k)
		l.secret(k)
		l.warnPlaintextSecret(v, "private_key")
		l.secretRefs(v.attr)
	}
	if k, v := l.str(content, "private_key_passphrase"); v.ok {
		t.PrivateKeyPassphrase = NewSecret(k)
		l.secret(k)
		l.warnPlaintextSecret(v, "private_key_passphrase")
		l.secretRefs(v.attr)
	}
	if kf.attr != nil {
		if pk, ok := content.Attributes["private_key"]; ok {
			l.errorf(pk.NameRange.Ptr(), "Conflicting SSH key attributes",
				"Give either private_key_file (at %s) or private_key, not both.", formatPos(kf.attr.NameRange))
		}
	}
	khf, kh := l.str(content, "known_hosts_file")
	hostKey, hk := l.str(content, "host_key")
	if kh.attr != nil && hk.attr != nil {
		l.errorf(hk.attr.NameRange.Ptr(), "Conflicting host key attributes",
			"Give either known_hosts_file (at %s) or a pinned host_key, not both.", formatPos(kh.attr.NameRange))
	}
	if hk.ok {
		t.HostKey = hostKey
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey)); err != nil {
			l.errorf(hk.rng(), "Invalid host_key",
				"host_key must be the bastion's public key in authorized_keys form, as \"ssh-ed25519 AAAA...\" (a line of ssh-keyscan's output without the host name): %s.", err)
		}
	}
	switch {
	case kh.ok && khf != "":
		t.KnownHostsFile = resolvePath(l.dir, khf)
	case hk.attr == nil:
		t.KnownHostsFile = resolvePath(l.dir, "~/.ssh/known_hosts")
	}
	return t
}

func (l *loader) decodeCSV(b *hcl.Block) *CSVFile {
	f := &CSVFile{Header: true, Delimiter: ','}
	content, diags := b.Body.Content(csvSourceSchema)
	l.addDiags(diags)
	if p, v := l.str(content, "path"); v.ok {
		if p == "" {
			l.errorf(v.rng(), "Invalid path", "path must name a CSV file.")
		}
		f.Path = resolvePath(l.dir, p)
		f.PathRange = *v.rng()
	}
	f.Header = l.boolean(content, "header", true)
	if d, v := l.str(content, "delimiter"); v.ok {
		r, size := utf8.DecodeRuneInString(d)
		if size == 0 || size != len(d) || r == '"' || r == '\n' || r == '\r' {
			got := fmt.Sprintf(" got %q.", d)
			if v.sensitive {
				got = ""
			}
			l.errorf(v.rng(), "Invalid delimiter", "delimiter must be exactly one character other than a quote or a line break;%s", got)
		} else {
			f.Delimiter = r
		}
	}
	if e, v := l.str(content, "encoding"); v.ok {
		switch strings.ToUpper(strings.ReplaceAll(e, "-", "")) {
		case "UTF8":
		case EncodingLatin1, "ISO88591":
			f.Encoding = EncodingLatin1
		default:
			got := fmt.Sprintf("; %q is not one of them.%s", e, didYouMean(e, CSVEncodings))
			if v.sensitive {
				got = "."
			}
			l.errorf(v.rng(), "Invalid encoding", "encoding must be one of %s%s", quoteList(CSVEncodings), got)
		}
	}
	return f
}
