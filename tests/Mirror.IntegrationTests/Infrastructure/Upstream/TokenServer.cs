using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>One call to the token endpoint, as the token server saw it.</summary>
/// <param name="User">The Basic-auth user name sent, or null when none.</param>
/// <param name="Scopes">The <c>scope</c> values asked for.</param>
/// <param name="Status">The status answered: 200 with a token, 401 when refused.</param>
public sealed record TokenRequest(string? User, IReadOnlyList<string> Scopes, int Status);

/// <summary>
/// A Docker-Hub-like token server (in-process Kestrel) for a registry configured with <c>auth.token</c>.
/// </summary>
/// <remarks>
/// <c>GET /token?service=S&amp;scope=repository:NAME:pull,push</c> with HTTP Basic credentials, or the OAuth2 form
/// <c>POST /token</c> (<c>grant_type=password</c>), answers
/// <c>{"token","access_token","expires_in":300,"issued_at"}</c>. The token is an ES256 JWT whose <c>kid</c> is the
/// libtrust key id of the key in <see cref="CertificatePath"/>, which the registry loads as its <c>rootcertbundle</c>.
/// The configured user gets <c>pull,push</c> (and <c>delete</c> when asked) on every repository scope; wrong or missing
/// credentials get 401, unless <see cref="AnonymousPull"/> lets anonymous callers have <c>pull</c> as Docker Hub does.
/// </remarks>
public sealed class TokenServer : IAsyncDisposable
{
    /// <summary>Lifetime of a token in seconds, as <c>expires_in</c> says.</summary>
    public const int ExpiresInSeconds = 300;

    private readonly WebApplication _app;
    private readonly ECDsa _key;
    private readonly string _keyId;
    private readonly ConcurrentQueue<TokenRequest> _requests = new();
    private int _issued;

    private TokenServer(WebApplication app, Uri url, ECDsa key, string certificatePath, Options options)
    {
        _app = app;
        _key = key;
        _keyId = LibtrustKeyId(key.ExportSubjectPublicKeyInfo());
        Url = url;
        CertificatePath = certificatePath;
        Service = options.Service;
        Issuer = options.Issuer;
        Username = options.Username;
        Password = options.Password;
        AnonymousPull = options.AnonymousPull;
    }

    private sealed record Options(string Service, string Issuer, string Username, string Password, bool AnonymousPull);

    /// <summary>The server's base URL (http://127.0.0.1:PORT/).</summary>
    public Uri Url { get; }

    /// <summary>The token endpoint, to be used as the registry's <c>realm</c>.</summary>
    public Uri Realm => new(Url, "token");

    /// <summary>Path of the self-signed certificate (PEM) whose key signs the tokens: the registry's <c>rootcertbundle</c>.</summary>
    public string CertificatePath { get; }

    /// <summary>The <c>service</c> (JWT audience) tokens are issued for.</summary>
    public string Service { get; }

    /// <summary>The <c>iss</c> claim of issued tokens.</summary>
    public string Issuer { get; }

    /// <summary>The one user that is granted access.</summary>
    public string Username { get; }

    /// <summary>That user's password.</summary>
    public string Password { get; }

    /// <summary>When true, requests without credentials get pull-only tokens (Docker Hub's behaviour for public images).</summary>
    public bool AnonymousPull { get; }

    /// <summary>The libtrust key id (<c>kid</c>) of the signing key.</summary>
    public string KeyId => _keyId;

    /// <summary>How many tokens have been issued so far (to check that clients cache them).</summary>
    public int IssuedTokens => Volatile.Read(ref _issued);

    /// <summary>Every call to the token endpoint so far, in order.</summary>
    public IReadOnlyList<TokenRequest> Requests => [.. _requests];

    /// <summary>Starts a token server that writes its certificate into <paramref name="directory"/>.</summary>
    public static async Task<TokenServer> StartAsync(string directory, string username, string password,
        bool anonymousPull = false, string service = "mirror-test-registry", string issuer = "mirror-test-token-server")
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + issuer, key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        Directory.CreateDirectory(directory);
        var certificatePath = Path.Combine(directory, "token-signing-cert.pem");
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem() + "\n");

        TokenServer? server = null;
        var (app, url) = await InProcessServer.StartAsync(context => server!.HandleAsync(context));
        server = new TokenServer(app, url, key, certificatePath, new Options(service, issuer, username, password, anonymousPull));
        return server;
    }

    /// <summary>
    /// The libtrust key id of a public key: SHA-256 of its DER SubjectPublicKeyInfo, first 30 bytes,
    /// base32 without padding, in groups of four characters joined by ':'.
    /// </summary>
    public static string LibtrustKeyId(byte[] subjectPublicKeyInfo)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = SHA256.HashData(subjectPublicKeyInfo).AsSpan(0, 30);
        var base32 = new StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                base32.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) base32.Append(alphabet[(buffer << (5 - bits)) & 31]);
        var text = base32.ToString();
        return string.Join(':', Enumerable.Range(0, (text.Length + 3) / 4).Select(i => text.Substring(i * 4, Math.Min(4, text.Length - i * 4))));
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != "/token" || !(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsPost(context.Request.Method)))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        string? user, password, service;
        string[] scopes;
        if (HttpMethods.IsPost(context.Request.Method))
        {
            var form = await context.Request.ReadFormAsync();
            (user, password) = form["grant_type"] == "password" ? (form["username"].ToString(), form["password"].ToString()) : ReadBasic(context.Request);
            service = form["service"];
            scopes = [.. form["scope"].SelectMany(s => (s ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))];
        }
        else
        {
            (user, password) = ReadBasic(context.Request);
            service = context.Request.Query["service"];
            scopes = [.. context.Request.Query["scope"].SelectMany(s => (s ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))];
        }

        var authenticated = user == Username && password == Password;
        if (!authenticated && (user is not null || !AnonymousPull))
        {
            _requests.Enqueue(new TokenRequest(user, scopes, StatusCodes.Status401Unauthorized));
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"mirror-test-token-server\"";
            await context.Response.WriteAsJsonAsync(new { details = "incorrect username or password" });
            return;
        }

        var now = DateTimeOffset.UtcNow;
        var token = CreateToken(authenticated ? user! : "", service ?? Service, scopes.Select(s => Grant(s, authenticated)).OfType<JsonObject>(), now);
        Interlocked.Increment(ref _issued);
        _requests.Enqueue(new TokenRequest(user, scopes, StatusCodes.Status200OK));
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["token"] = token,
            ["access_token"] = token,
            ["expires_in"] = ExpiresInSeconds,
            ["issued_at"] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ"),
        });
    }

    private static (string? User, string? Password) ReadBasic(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return (null, null);
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':');
            return colon < 0 ? (decoded, null) : (decoded[..colon], decoded[(colon + 1)..]);
        }
        catch (FormatException) { return ("", null); }
    }

    /// <summary>The access entry granted for one scope "type:name:actions", or null when nothing is granted.</summary>
    private static JsonObject? Grant(string scope, bool authenticated)
    {
        // The name may contain ':' only in a registry host prefix, which repository scopes never have; split at the ends.
        var first = scope.IndexOf(':');
        var last = scope.LastIndexOf(':');
        if (first < 0 || last == first) return null;
        var type = scope[..first];
        var name = scope[(first + 1)..last];
        var asked = scope[(last + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries);
        string[] actions = !authenticated
            ? [.. asked.Where(a => a == "pull")]
            : type == "repository" ? [.. new[] { "pull", "push" }.Union(asked.Where(a => a == "delete"))] : asked;
        if (actions.Length == 0) return null;
        return new JsonObject { ["type"] = type, ["name"] = name, ["actions"] = new JsonArray([.. actions.Select(a => JsonValue.Create(a))]) };
    }

    private string CreateToken(string subject, string audience, IEnumerable<JsonObject> access, DateTimeOffset now)
    {
        var header = new JsonObject { ["typ"] = "JWT", ["alg"] = "ES256", ["kid"] = _keyId };
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["sub"] = subject,
            ["aud"] = audience,
            ["exp"] = now.AddSeconds(ExpiresInSeconds).ToUnixTimeSeconds(),
            ["nbf"] = now.AddSeconds(-10).ToUnixTimeSeconds(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = new JsonArray([.. access]),
        };
        var signingInput = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        // ES256 in JWS is the raw r||s pair (IEEE P1363), which is .NET's default signature format.
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url(signature);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
