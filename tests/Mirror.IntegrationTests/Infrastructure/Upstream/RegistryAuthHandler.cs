using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A client-side handler that does the registry token dance: on a 401 with a <c>Bearer</c> challenge it fetches a
/// token from the challenge's realm (with HTTP Basic credentials when given), caches it per repository, and retries once.
/// </summary>
/// <remarks>
/// Retrying re-sends the request's content, so bodies must be re-readable (byte arrays, seekable streams).
/// Cached tokens are reused for requests whose needed action (pull for GET/HEAD, delete for DELETE, push otherwise)
/// the cached token was asked for.
/// </remarks>
public sealed partial class RegistryAuthHandler(string? username, string? password) : DelegatingHandler(new SocketsHttpHandler
{
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    UseProxy = false,
})
{
    private static readonly HttpClient TokenClient = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
    private readonly ConcurrentDictionary<string, (string Token, HashSet<string> Actions)> _tokens = new();

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var repository = RepositoryOf(request.RequestUri!);
        var needed = NeededAction(request.Method);
        if (_tokens.TryGetValue(repository, out var cached) && (cached.Actions.Contains(needed) || repository.Length == 0))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", cached.Token);
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized) return response;
        var challenge = response.Headers.WwwAuthenticate.FirstOrDefault(h => h.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase));
        if (challenge?.Parameter is null) return response;

        var parameters = ChallengeParameter().Matches(challenge.Parameter).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        if (!parameters.TryGetValue("realm", out var realm)) return response;
        parameters.TryGetValue("scope", out var scope);
        var token = await FetchTokenAsync(realm, parameters.GetValueOrDefault("service"), scope, cancellationToken);
        if (token is null) return response;

        var actions = scope is null ? [] : scope[(scope.LastIndexOf(':') + 1)..].Split(',').ToHashSet();
        _tokens[repository] = (token, actions);
        response.Dispose();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken);
    }

    private async Task<string?> FetchTokenAsync(string realm, string? service, string? scope, CancellationToken cancellationToken)
    {
        var query = new List<string>();
        if (service is not null) query.Add("service=" + Uri.EscapeDataString(service));
        if (scope is not null) query.Add("scope=" + Uri.EscapeDataString(scope));
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Get, realm + (query.Count > 0 ? "?" + string.Join('&', query) : ""));
        if (username is not null)
        {
            tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
        }
        using var response = await TokenClient.SendAsync(tokenRequest, cancellationToken);
        if (!response.IsSuccessStatusCode) return null;
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        return json.RootElement.TryGetProperty("token", out var t) ? t.GetString()
            : json.RootElement.TryGetProperty("access_token", out var a) ? a.GetString() : null;
    }

    /// <summary>The repository name in a /v2/NAME/(blobs|manifests|tags)/... path, or "" for other paths.</summary>
    private static string RepositoryOf(Uri uri)
    {
        var match = RepositoryPath().Match(uri.AbsolutePath);
        return match.Success ? match.Groups[1].Value : "";
    }

    private static string NeededAction(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head ? "pull" : method == HttpMethod.Delete ? "delete" : "push";

    [GeneratedRegex(@"(\w+)=""([^""]*)""")]
    private static partial Regex ChallengeParameter();

    [GeneratedRegex("^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/")]
    private static partial Regex RepositoryPath();
}
