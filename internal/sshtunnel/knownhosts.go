package sshtunnel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHost is what a known_hosts file says about one bastion: the plain
// host keys and the certificate authorities (@cert-authority lines) that
// match it. Its check verifies the key the bastion presents as OpenSSH does.
type knownHost struct {
	addr        string // host:port as configured, for messages
	lookup      string // host:port as the file is searched (see lookupAddr)
	file        string
	db          ssh.HostKeyCallback // knownhosts.New's callback for file
	keys        []ssh.PublicKey     // plain host key lines for the host
	authorities []ssh.PublicKey     // @cert-authority lines for the host
}

// lookupAddr is host:port as known_hosts is searched for it: with the host
// name lowercased, as OpenSSH does, since known_hosts entries are matched
// case-sensitively.
func lookupAddr(host string, port int) string {
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(port))
}

// loadKnownHost reads the known_hosts file and finds its lines for the
// host:port lookup (see lookupAddr); addr names the bastion in messages.
//
// For port 22 the knownhosts package reads the file itself: it matches a
// pattern without a port (the form OpenSSH writes for port 22) to the host
// as OpenSSH does. For another port its matching is not OpenSSH's (see
// hostpattern.go), so it reads a copy of the file in which OpenSSH's
// matching has been done (see forLookup).
func loadKnownHost(file, addr, lookup string) (*knownHost, error) {
	db, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("cannot parse the known_hosts file %s: %w", file, err)
	}
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the known_hosts file %s: %w", file, unwrapPath(err))
	}
	_, port, err := net.SplitHostPort(lookup)
	if err != nil {
		return nil, fmt.Errorf("cannot look up the SSH bastion %s in the known_hosts file %s: %v", addr, file, err)
	}
	if port != "22" {
		if db, err = readKnownHosts(forLookup(content, lookup)); err != nil {
			return nil, fmt.Errorf("cannot read the known_hosts file %s: %v", file, err)
		}
	}
	caLines, err := authorityLines(content)
	if err != nil {
		return nil, fmt.Errorf("cannot read the known_hosts file %s: %w", file, err)
	}
	k := &knownHost{addr: addr, lookup: lookup, file: file, db: db}
	for _, known := range knownKeys(db, lookup) {
		if caLines[known.Line] {
			k.authorities = append(k.authorities, known.Key)
		} else {
			k.keys = append(k.keys, known.Key)
		}
	}
	return k, nil
}

// forLookup returns a copy of a known_hosts file in which the host patterns
// of the plain key and @cert-authority lines are replaced by ones that the
// knownhosts package matches to the host:port lookup exactly when OpenSSH
// matches the originals to it: "[*]:PORT" (any host on the lookup's port,
// and the copy is read for that one lookup only) when OpenSSH's rule
// (matchHostPatterns against "[host]:port", as OpenSSH searches the file)
// says 1, "!*" (nothing) otherwise. Every other line is kept as it is, and
// every line keeps its number, so that messages name the line of the file
// the user should look at:
//   - hashed entries (|1|...): the knownhosts package hashes "[host]:port"
//     and compares, as OpenSSH does;
//   - @revoked lines: the knownhosts package refuses a revoked key whatever
//     its line's host patterns say, which is stricter than OpenSSH (it
//     heeds only the @revoked lines whose patterns match the host);
//   - lines whose host patterns the knownhosts package cannot parse, which
//     it skips in the copy too, as in the file (see hostPatternsParse);
//   - comments and blank lines.
//
// A line is split into marker, host patterns and the rest as the knownhosts
// package splits it, and the rest is kept as it is: a line parses in the
// copy exactly when it parses in the file, so the copy parses whenever the
// file does (FuzzKnownHosts checks this).
//
// lookup is host:port, as net.SplitHostPort splits it. A line longer than
// bufio.Scanner reads ends the copy, as it ends knownhosts.New's reading of
// the file, which loadKnownHost has then already refused.
func forLookup(content []byte, lookup string) []byte {
	_, port, _ := net.SplitHostPort(lookup)
	target := knownhosts.Normalize(lookup)
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(content)) // splits lines as the knownhosts package does
	for sc.Scan() {
		out.WriteString(lineForLookup(sc.Text(), target, port))
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// lineForLookup is one line of forLookup's copy.
func lineForLookup(line, target, port string) string {
	rest := strings.Trim(line, " \t")
	if rest == "" || rest[0] == '#' {
		return line
	}
	marker := ""
	if w, next := nextWord(rest); w == "@cert-authority" || w == "@revoked" {
		marker, rest = w, next
	}
	patterns, rest := nextWord(rest)
	if marker == "@revoked" || strings.HasPrefix(patterns, "|") || !hostPatternsParse(patterns) {
		return line
	}
	replaced := "!*"
	if matchHostPatterns(target, patterns) == 1 {
		replaced = "[*]:" + port
	}
	if marker != "" {
		replaced = marker + " " + replaced
	}
	return replaced + " " + rest
}

// nextWord splits the first word, up to a space or tab, from the rest,
// whose leading spaces and tabs it drops, as the knownhosts package does.
func nextWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.Trim(s[i:], " \t")
}

// hostPatternsParse reports whether the knownhosts package accepts the host
// patterns field of a line (not a hashed one): it skips the lines whose
// field starts with '@' (a second or unknown marker), has a "!" with
// nothing after it, or has a pattern starting with '[' that is not
// "[host]:port". Such a line stays skipped in forLookup's copy, as it is at
// port 22, though OpenSSH would still match its other patterns: when in
// doubt, refuse. TestHostPatternsParseAsKnownhostsDoes checks this against
// the package.
func hostPatternsParse(patterns string) bool {
	if patterns == "" || patterns[0] == '@' {
		return false
	}
	for _, p := range strings.Split(patterns, ",") {
		if p == "" {
			continue
		}
		p = strings.TrimPrefix(p, "!")
		if p == "" {
			return false
		}
		if p[0] == '[' {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return false
			}
		}
	}
	return true
}

// readKnownHosts is knownhosts.New for known_hosts content: the package
// reads only files, so it reads a temporary one, removed at once.
func readKnownHosts(content []byte) (ssh.HostKeyCallback, error) {
	f, err := os.CreateTemp("", "rowform-known_hosts-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write its copy for the bastion's port: %w", unwrapPath(err))
	}
	defer os.Remove(f.Name())
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("cannot write its copy for the bastion's port: %w", unwrapPath(err))
	}
	return knownhosts.New(f.Name())
}

// authorityLines returns the numbers of the @cert-authority lines of a
// known_hosts file's content, numbered as knownhosts.KnownKey.Line numbers
// them. The knownhosts package reports matching lines without saying which
// are CAs.
func authorityLines(content []byte) (map[int]bool, error) {
	lines := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(content))
	for n := 1; sc.Scan(); n++ {
		if marker, _ := nextWord(strings.Trim(sc.Text(), " \t")); marker == "@cert-authority" {
			lines[n] = true
		}
	}
	return lines, sc.Err()
}

// knownKeys returns the known_hosts lines (plain keys and CAs alike) that
// match the host:port addr: the callback lists them in the KeyError it
// returns for a key no host has.
func knownKeys(db ssh.HostKeyCallback, addr string) []knownhosts.KnownKey {
	// The callback takes the address as the SSH library passes it
	// (host:port), not normalized: normalizing drops ":22".
	err := db(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey{})
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	return ke.Want
}

// algorithms returns the host key algorithms to ask the bastion for, so that
// a bastion with several host keys presents one the file can verify: the
// certificate algorithms first when a @cert-authority line matches the host,
// then those of the host's known key types — or, when only CAs are known,
// every plain algorithm, so that a bastion without a certificate is refused
// as unknown rather than failing to negotiate. nil, when the file knows
// nothing of the host, lets the SSH library choose.
func (k *knownHost) algorithms() []string {
	var out []string
	if len(k.authorities) > 0 {
		certs, plain := supportedHostKeyAlgorithms()
		out = certs
		if len(k.keys) == 0 {
			out = append(out, plain...)
		}
	}
	for _, key := range k.keys {
		for _, a := range algorithmsFor(key.Type()) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// supportedHostKeyAlgorithms splits the SSH library's host key algorithms,
// in its order of preference, into certificate and plain ones.
func supportedHostKeyAlgorithms() (certs, plain []string) {
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if strings.Contains(a, "-cert-v01@") {
			certs = append(certs, a)
		} else {
			plain = append(plain, a)
		}
	}
	return certs, plain
}

// check verifies the key the bastion presented, as OpenSSH does. A plain key
// must be on a line for the host. A host certificate must be signed by a CA
// that a @cert-authority line trusts for the host, name the host among its
// principals and be valid now; a certificate that is not is checked as the
// plain key it certifies. A key or CA on a @revoked line is refused whatever
// else the file says. Every refusal is a *HostKeyError.
func (k *knownHost) check(remote net.Addr, key ssh.PublicKey) error {
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		return k.checkKey(remote, key)
	}
	if revoked := k.revocation(remote, cert.SignatureKey); revoked != nil {
		e := newHostKeyError(k.addr, cert.Key, false, k.file)
		e.CA, e.RevokedLine, e.RevokedCA = ssh.FingerprintSHA256(cert.SignatureKey), revoked.Line, true
		return e
	}
	if k.db(k.lookup, remote, cert) == nil {
		return nil
	}
	err := k.checkKey(remote, cert.Key)
	var hk *HostKeyError
	if errors.As(err, &hk) && hk.RevokedLine == 0 && !hk.Changed {
		hk.CA, hk.CertProblem = ssh.FingerprintSHA256(cert.SignatureKey), k.certificateProblem(cert)
	}
	return err
}

// checkKey verifies a plain host key against the plain key lines for the
// host. A @cert-authority line does not vouch for its own key as a host key
// (OpenSSH skips CA lines for plain keys); the knownhosts package accepts
// any matching line, so its success is checked against k.keys.
func (k *knownHost) checkKey(remote net.Addr, key ssh.PublicKey) error {
	err := k.db(k.lookup, remote, key)
	var revoked *knownhosts.RevokedError
	var unknown *knownhosts.KeyError
	switch {
	case err == nil && !slices.ContainsFunc(k.keys, func(known ssh.PublicKey) bool { return keysEqual(known, key) }):
		return newHostKeyError(k.addr, key, len(k.keys) > 0, k.file)
	case errors.As(err, &revoked):
		e := newHostKeyError(k.addr, key, false, k.file)
		e.RevokedLine = revoked.Revoked.Line
		return e
	case errors.As(err, &unknown):
		return newHostKeyError(k.addr, key, len(k.keys) > 0, k.file)
	}
	return err
}

// revocation returns the @revoked line for key, or nil.
func (k *knownHost) revocation(remote net.Addr, key ssh.PublicKey) *knownhosts.KnownKey {
	var revoked *knownhosts.RevokedError
	if errors.As(k.db(k.lookup, remote, key), &revoked) {
		return &revoked.Revoked
	}
	return nil
}

// certificateProblem says why a host certificate that the file does not
// let through is not trusted for the host, and what to do about it.
func (k *knownHost) certificateProblem(cert *ssh.Certificate) string {
	host, _, _ := net.SplitHostPort(k.lookup)
	now := time.Now().Unix()
	admin := "ask the bastion's administrator for a new host certificate"
	switch {
	case cert.CertType != ssh.HostCert:
		return "it is not a host certificate; " + admin + " (ssh-keygen -h)"
	case !slices.ContainsFunc(k.authorities, func(ca ssh.PublicKey) bool { return keysEqual(ca, cert.SignatureKey) }):
		return fmt.Sprintf("no @cert-authority line in %s trusts that CA for %s. "+
			"Check the CA's fingerprint with the bastion's administrator, then add the line \"@cert-authority %s <the CA's public key>\" to the known_hosts file",
			k.file, host, knownhosts.Normalize(k.lookup))
	case len(cert.ValidPrincipals) == 0:
		return fmt.Sprintf("it names no host; %s that names %s (ssh-keygen -n)", admin, host)
	case !slices.Contains(cert.ValidPrincipals, host):
		// host is compared in lowercase: a principal with capitals
		// names no host that host could be set to.
		fix := "set host to one of those names, or "
		if !slices.ContainsFunc(cert.ValidPrincipals, func(p string) bool { return p == strings.ToLower(p) }) {
			fix = ""
		}
		return fmt.Sprintf("it is issued for %s, not for %s; %s%s that names %s (ssh-keygen -n)",
			strings.Join(cert.ValidPrincipals, ", "), host, fix, admin, host)
	case int64(cert.ValidAfter) < 0 || now < int64(cert.ValidAfter):
		return fmt.Sprintf("it is valid only from %s; check this computer's clock, or %s", certTime(cert.ValidAfter), admin)
	case cert.ValidBefore != ssh.CertTimeInfinity && (int64(cert.ValidBefore) < 0 || now >= int64(cert.ValidBefore)):
		return fmt.Sprintf("it expired at %s; %s", certTime(cert.ValidBefore), admin)
	case len(cert.CriticalOptions) > 0:
		return "it has critical options, which host certificates do not support; " + admin
	}
	return "its signature does not verify with the CA's key; " + admin
}

// certTime formats a certificate's validity bound.
func certTime(t uint64) string {
	if int64(t) < 0 {
		return "an out-of-range date"
	}
	return time.Unix(int64(t), 0).UTC().Format(time.RFC3339)
}

func keysEqual(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// probeKey is a public key no host has, used to list a host's known keys.
type probeKey struct{}

func (probeKey) Type() string                        { return "rowform-probe" }
func (probeKey) Marshal() []byte                     { return []byte("rowform-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe") }
