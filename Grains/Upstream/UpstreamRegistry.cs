using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Mirror.Grains.Upstream;

/// <summary>
/// The client for one upstream registry on the allow-list: token and Basic auth, explicit redirects, retries before
/// any byte has been handed to the caller. Nothing is buffered: responses are returned at their headers.
/// </summary>
/// <remarks>
/// <para>A request goes through these steps, marked in the code:</para>
/// <list type="number">
/// <item>Attach the cached credential for the request's scope (a bearer token, or Basic once the upstream asked for it).</item>
/// <item>Send with <see cref="HttpCompletionOption.ResponseHeadersRead"/>; a connect failure or 502/503/504 is retried
/// twice with back-off (nothing has reached any client yet).</item>
/// <item>On 401 with a challenge, obtain a token for the challenge's scope (or switch to Basic) and retry once. A token
/// belongs to the origin that challenged: a redirect target with its own token service (registry.k8s.io sends pulls to
/// Artifact Registry) gets its own, anonymous, token.</item>
/// <item>On 3xx with a Location, follow (at most 5 hops). The configured credentials (Basic, or Basic to the token
/// endpoint) only ever go to the registry's own origin and the realm it names; a token only to the origin it is for.</item>
/// </list>
/// </remarks>
public sealed partial class UpstreamRegistry : IDisposable
{
    private const int MaxRedirects = 5;
    private const int MaxAttempts = 3;

    private readonly HttpMessageInvoker _http;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, CachedToken> _tokens = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tokenLocks = new();
    private volatile bool _basicRequested;

    /// <summary>Creates the client for registry <paramref name="name"/> at <paramref name="baseUrl"/>.</summary>
    public UpstreamRegistry(string name, Uri baseUrl, string? username, string? password, UpstreamTimeoutOptions timeouts, ILogger logger)
    {
        Name = name;
        BaseUrl = baseUrl;
        Username = username;
        Password = password;
        IdleTimeout = timeouts.Idle;
        _logger = logger;
        _http = new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = timeouts.Connect,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            MaxConnectionsPerServer = 256,
            EnableMultipleHttp2Connections = true,
        }, disposeHandler: true);
    }

    /// <summary>The registry's canonical name (<c>docker.io</c>).</summary>
    public string Name { get; }

    /// <summary>The registry's base URL.</summary>
    public Uri BaseUrl { get; }

    /// <summary>Longest wait for response headers or for the next bytes of a body.</summary>
    public TimeSpan IdleTimeout { get; }

    private string? Username { get; }
    private string? Password { get; }

    /// <summary>
    /// Sends <paramref name="method"/> for <c>/v2/{repository}/{suffix}</c> and returns the response at its headers.
    /// The caller owns (and disposes) the response. Throws <see cref="RegistryException"/> when the upstream cannot be reached.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string repository, string suffix,
        IEnumerable<string>? accept, RangeHeaderValue? range, CancellationToken cancellationToken)
    {
        var scope = $"repository:{repository}:pull";
        var url = new Uri(BaseUrl, $"/v2/{repository}/{suffix}");
        HashSet<string>? challenged = null; // one retry per origin that challenges (the registry's, a redirect target's)
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await SendFollowingRedirectsAsync(method, url, scope, accept, range, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutException or IOException
                                       || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Step 2: nothing has been handed to anyone yet, so a failed connect is retried.
                if (attempt < MaxAttempts) { await BackOffAsync(attempt, cancellationToken); continue; }
                LogUnreachable(_logger, Name, url.AbsolutePath, e.Message);
                throw new RegistryException(ErrorCode.Unavailable, $"{Name}: {e.Message}", inner: e);
            }

            if (response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
                && attempt < MaxAttempts && response.Headers.RetryAfter is null)
            {
                response.Dispose();
                await BackOffAsync(attempt, cancellationToken);
                continue;
            }

            // Step 3: a challenge gets one retry with fresh credentials for the origin that challenged.
            var challenger = response.RequestMessage?.RequestUri ?? url;
            if (response.StatusCode == HttpStatusCode.Unauthorized && (challenged ??= []).Add(Origin(challenger)) && challenged.Count <= 2)
            {
                var challenge = AuthChallenge.ParseOrNull(response.Headers.WwwAuthenticate.ToString());
                if (challenge is not null && await PrepareCredentialAsync(challenge, scope, challenger, cancellationToken))
                {
                    response.Dispose();
                    attempt--;
                    continue;
                }
            }
            return response;
        }
    }

    private static Task BackOffAsync(int attempt, CancellationToken ct) =>
        Task.Delay(TimeSpan.FromMilliseconds(100 * attempt * attempt), ct); // retry back-off, not synchronisation

    private async Task<HttpResponseMessage> SendFollowingRedirectsAsync(HttpMethod method, Uri url, string scope,
        IEnumerable<string>? accept, RangeHeaderValue? range, CancellationToken ct)
    {
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url) { Version = HttpVersion.Version11 };
            if (accept is not null)
            {
                foreach (var a in accept) request.Headers.Accept.ParseAdd(a);
            }
            if (range is not null) request.Headers.Range = range;
            request.Headers.UserAgent.ParseAdd("mirror/1.0");
            // Step 1 and 4: each origin gets only its own credential, never one meant for another host.
            AttachCredential(request, url, scope);

            using var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            headersTimeout.CancelAfter(IdleTimeout);
            var response = await _http.SendAsync(request, headersTimeout.Token);
            if ((int)response.StatusCode is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
            {
                if (hop >= MaxRedirects)
                {
                    response.Dispose();
                    throw new RegistryException(ErrorCode.BadGateway, $"{Name}: too many redirects");
                }
                var next = location.IsAbsoluteUri ? location : new Uri(url, location);
                if (next.Scheme is not ("http" or "https"))
                {
                    response.Dispose();
                    throw new RegistryException(ErrorCode.BadGateway, $"{Name}: redirect to unsupported scheme");
                }
                response.Dispose();
                url = next;
                continue;
            }
            return response;
        }
    }

    private static bool IsSameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase)
        && a.Port == b.Port;

    private static string Origin(Uri u) => $"{u.Scheme}://{u.IdnHost}:{u.Port}".ToLowerInvariant();

    private static string TokenKey(Uri origin, string scope) => $"{Origin(origin)} {scope}";

    private void AttachCredential(HttpRequestMessage request, Uri url, string scope)
    {
        if (_tokens.TryGetValue(TokenKey(url, scope), out var token) && token.ExpiresAt > DateTimeOffset.UtcNow)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        }
        else if (_basicRequested && Username is not null && IsSameOrigin(url, BaseUrl))
        {
            request.Headers.Authorization = BasicHeader();
        }
    }

    private AuthenticationHeaderValue BasicHeader() =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}")));

    /// <summary>
    /// Gets what a challenge from <paramref name="challenger"/> asks for. False when there is nothing new to try (no
    /// credentials for Basic, say). The configured credentials are offered only when the registry itself challenged.
    /// </summary>
    private async Task<bool> PrepareCredentialAsync(AuthChallenge challenge, string scope, Uri challenger, CancellationToken ct)
    {
        var own = IsSameOrigin(challenger, BaseUrl);
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (!own || Username is null || _basicRequested) return false;
            _basicRequested = true;
            return true;
        }
        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || challenge["realm"] is not { } realm) return false;
        if (!Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("http" or "https")) return false;

        var key = TokenKey(challenger, scope);
        var gate = _tokenLocks.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            var query = new StringBuilder();
            if (challenge["service"] is { } service) query.Append("service=").Append(Uri.EscapeDataString(service));
            // The challenge's own scope wins: it names exactly what the upstream wants (it may add actions).
            var wanted = challenge["scope"] ?? scope;
            foreach (var s in wanted.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (query.Length > 0) query.Append('&');
                query.Append("scope=").Append(Uri.EscapeDataString(s));
            }
            var tokenUrl = new UriBuilder(realmUri) { Query = query.ToString() }.Uri;
            using var request = new HttpRequestMessage(HttpMethod.Get, tokenUrl);
            if (own && Username is not null) request.Headers.Authorization = BasicHeader();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(IdleTimeout);
            using var response = await _http.SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogTokenRefused(_logger, Name, (int)response.StatusCode);
                return false;
            }
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var json = await JsonDocument.ParseAsync(new LimitedStream(body, 1 << 20), cancellationToken: timeout.Token);
            var root = json.RootElement;
            var value = root.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                : root.TryGetProperty("access_token", out var at) && at.ValueKind == JsonValueKind.String ? at.GetString() : null;
            if (string.IsNullOrEmpty(value)) return false;
            var lifetime = root.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var secs) && secs > 0 ? secs : 60;
            // Renew a little early so a token never expires between being attached and being checked.
            var expires = DateTimeOffset.UtcNow.AddSeconds(Math.Max(10, lifetime * 0.9));
            _tokens[key] = new CachedToken(value, expires);
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or IOException
                                    || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            LogTokenRefused(_logger, Name, 0);
            return false;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Turns a non-success upstream answer into the error the client sees.</summary>
    public static async Task<RegistryException> ToErrorAsync(HttpResponseMessage response, ErrorCode notFound, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        string? upstreamCode = null, detail = null;
        try
        {
            if (response.Content.Headers.ContentLength is null or < 65536 && response.RequestMessage?.Method != HttpMethod.Head)
            {
                await using var body = await response.Content.ReadAsStreamAsync(ct);
                using var json = await JsonDocument.ParseAsync(new LimitedStream(body, 65536), cancellationToken: ct);
                if (json.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0)
                {
                    var first = errors[0];
                    upstreamCode = first.TryGetProperty("code", out var c) ? c.GetString() : null;
                    detail = first.TryGetProperty("message", out var m) ? m.GetString() : null;
                }
            }
        }
        catch (Exception e) when (e is JsonException or IOException or HttpRequestException or InvalidOperationException) { }

        var retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: { } d } => d,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => (TimeSpan?)null,
        };
        var known = upstreamCode is null ? null : ErrorCode.FromCodeOrNull(upstreamCode);
        var code = status switch
        {
            401 => ErrorCode.Unauthorized,
            403 => ErrorCode.Denied,
            404 => known is { Status: 404 } ? known : notFound,
            429 => ErrorCode.TooManyRequests,
            >= 500 => ErrorCode.BadGateway,
            _ => known ?? ErrorCode.BadGateway,
        };
        return new RegistryException(code, detail ?? $"upstream answered {status}", retryAfter);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private sealed record CachedToken(string Value, DateTimeOffset ExpiresAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Registry} unreachable for {Path}: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string registry, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream {Registry}: token endpoint refused (status {Status})")]
    private static partial void LogTokenRefused(ILogger logger, string registry, int status);
}
