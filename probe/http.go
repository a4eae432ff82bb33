package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// HTTPRequest is the GET an HTTP check sends, as in a Kubernetes
// httpGet probe.
type HTTPRequest struct {
	// Scheme is "HTTP" or "HTTPS" (any case); empty means HTTP.
	Scheme string
	// Host is the host to connect to (an IP address or a name the
	// DialFunc resolves); empty means 127.0.0.1. It is also the request's
	// Host unless Headers has a "Host" header.
	Host string
	// Port is the TCP port.
	Port int
	// Path is the request path, with an optional query ("/healthz?full=1");
	// empty means "/".
	Path string
	// Headers are sent as given. A "Host" header sets the request's Host;
	// a "User-Agent" header replaces UserAgent; a header with an empty
	// value removes a default ("Accept: */*", the User-Agent).
	Headers []Header
}

// Header is one HTTP header of an HTTPRequest.
type Header struct {
	Name  string
	Value string
}

// maxBody is how much of a response body an HTTP check reads.
const maxBody = 10 << 10

// maxRedirects is how many same-host redirects an HTTP check follows.
const maxRedirects = 10

// HTTPGet sends one GET, through dial, and passes when the final status is
// from 200 to 399, with Kubernetes' rules:
//
//   - HTTPS does not verify the server's certificate (nor its name);
//   - redirects to the same host name (any port or scheme) are followed,
//     up to 10 (more fail the check); a redirect to another host is not
//     followed and its 3xx status passes the check, so a check never
//     leaves the host it was given;
//   - no proxy from the environment; no keep-alive ("Connection: close"):
//     the connection is closed when the check returns;
//   - at most 10 KiB of the body is read; the body is not judged.
//
// ctx bounds the whole check, redirects included. Output is "HTTP probe
// succeeded with statuscode: 200", "HTTP probe failed with statuscode:
// 503", or the error (a dial, TLS, timeout or protocol error). A nil dial
// uses the host's network.
func HTTPGet(ctx context.Context, dial DialFunc, req HTTPRequest) Result {
	u, err := requestURL(req)
	if err != nil {
		return fail("HTTP probe: " + err.Error())
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail("HTTP probe: " + err.Error())
	}
	hreq.Header.Set("User-Agent", UserAgent)
	hreq.Header.Set("Accept", "*/*")
	set := map[string]bool{}
	for _, h := range req.Headers {
		name := http.CanonicalHeaderKey(h.Name)
		if name == "Host" {
			hreq.Host = h.Value
			continue
		}
		if !set[name] { // the first one replaces the default
			hreq.Header.Del(name)
			set[name] = true
		}
		if h.Value != "" {
			hreq.Header.Add(name, h.Value)
		}
	}
	if _, ok := hreq.Header["User-Agent"]; !ok {
		hreq.Header["User-Agent"] = []string{""} // no Go default either
	}

	tr := &http.Transport{
		DialContext:        dialer(dial),
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return fail(err.Error())
	}
	_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	code := resp.StatusCode
	if code < http.StatusOK || code >= http.StatusBadRequest {
		return fail(fmt.Sprintf("HTTP probe failed with statuscode: %d", code))
	}
	if rerr != nil {
		return fail(fmt.Sprintf("HTTP probe failed reading the body (statuscode: %d): %v", code, rerr))
	}
	if code >= http.StatusMultipleChoices {
		return ok(fmt.Sprintf("HTTP probe succeeded with statuscode: %d (redirect to %q not followed: another host)", code, resp.Header.Get("Location")))
	}
	return ok(fmt.Sprintf("HTTP probe succeeded with statuscode: %d", code))
}

func requestURL(req HTTPRequest) (string, error) {
	scheme := strings.ToLower(req.Scheme)
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return "", fmt.Errorf("unsupported scheme %q", req.Scheme)
	}
	if req.Port < 1 || req.Port > 65535 {
		return "", fmt.Errorf("port %d out of range", req.Port)
	}
	host := req.Host
	if host == "" {
		host = "127.0.0.1"
	}
	path := req.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(path)
	if err != nil {
		return "", err
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(req.Port))
	return u.String(), nil
}
