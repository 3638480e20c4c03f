using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Mirror.Grains;
using Mirror.Silo.Cluster;

namespace Mirror.Frontend.Cluster;

/// <summary>
/// Calls grains on silos. The likely owner of a key comes first (rendezvous hashing over live silos); a silo that
/// answers 421 names the lease holder, which is tried next; a silo that cannot be reached is skipped for a while.
/// Nothing has reached the client while this retries, so retrying is safe.
/// </summary>
public sealed partial class SiloClient : IDisposable
{
    private static readonly TimeSpan SuspectFor = TimeSpan.FromSeconds(5);
    private readonly HttpMessageInvoker _http;
    private readonly MembershipView _membership;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _suspects = new();

    /// <summary>Creates the client.</summary>
    public SiloClient(MembershipView membership, ILogger<SiloClient> logger)
    {
        _membership = membership;
        _logger = logger;
        _http = new HttpMessageInvoker(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = 512,
        });
    }

    /// <summary>How long a call keeps looking for a silo that can serve it (covers a dead owner's lease lapsing).</summary>
    public static readonly TimeSpan CallDeadline = ClusterTiming.LeaseDuration + ClusterTiming.SiloTimeout + TimeSpan.FromSeconds(10);

    /// <summary>Sends a GET for <paramref name="pathAndQuery"/> to the silo that owns <paramref name="key"/>; returns at the headers.</summary>
    public async Task<HttpResponseMessage> GetAsync(string key, string pathAndQuery, IEnumerable<string>? accept, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + CallDeadline;
        string? hint = null;
        for (var round = 0; ; round++)
        {
            var silos = await _membership.GetLiveAsync(cancellationToken, force: round > 0);
            var order = Rendezvous.Order(key, silos).Select(s => s.Address).ToList();
            var contracts = silos.ToDictionary(s => s.Address, s => s.Contract);
            var now = DateTimeOffset.UtcNow;
            var candidates = order.Where(a => !IsSuspect(a, now)).Concat(order.Where(a => IsSuspect(a, now))).ToList();
            if (hint is not null) { candidates.Remove(hint); candidates.Insert(0, hint); }
            var tried = new HashSet<string>();
            string? nextHint = null;
            for (var i = 0; i < candidates.Count; i++)
            {
                var address = candidates[i];
                if (!tried.Add(address)) continue;
                HttpResponseMessage response;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, address + pathAndQuery);
                    request.Headers.Add(ClusterTiming.ContractHeader, ContractFor(contracts.GetValueOrDefault(address, ClusterTiming.Contract)).ToString());
                    if (accept is not null) foreach (var a in accept) request.Headers.TryAddWithoutValidation("Accept", a);
                    response = await _http.SendAsync(request, cancellationToken);
                }
                catch (HttpRequestException e)
                {
                    _suspects[address] = DateTimeOffset.UtcNow + SuspectFor;
                    LogUnreachable(_logger, address, e.Message);
                    continue;
                }
                if (response.StatusCode == HttpStatusCode.MisdirectedRequest)
                {
                    var owner = response.Headers.TryGetValues(SiloEndpoints.OwnerHeader, out var v) ? v.FirstOrDefault()?.TrimEnd('/') : null;
                    response.Dispose();
                    if (owner is not null && !tried.Contains(owner) && !IsSuspect(owner, DateTimeOffset.UtcNow))
                    {
                        candidates.Insert(i + 1, owner);
                    }
                    nextHint ??= owner;
                    continue;
                }
                _suspects.TryRemove(address, out _);
                return response;
            }
            hint = nextHint is not null && !IsSuspect(nextHint, DateTimeOffset.UtcNow) ? nextHint : null;
            if (DateTimeOffset.UtcNow > deadline)
                throw new RegistryException(ErrorCode.Unavailable, silos.Count == 0 ? "no live silo" : "no silo could serve the request");
            // Back-off between rounds: the owner may be dead with its lease not yet lapsed.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 * (round + 1))), cancellationToken);
        }
    }

    /// <summary>
    /// The contract to speak with a silo that registered <paramref name="siloContract"/> as its newest: the newer of
    /// the two sides keeps serving the older one's version for the length of a rolling upgrade.
    /// </summary>
    public static int ContractFor(int siloContract) => Math.Min(ClusterTiming.Contract, siloContract);

    private bool IsSuspect(string address, DateTimeOffset now) => _suspects.TryGetValue(address, out var until) && until > now;

    /// <summary>Turns a silo's error answer back into the error the client should see.</summary>
    public static async Task<RegistryException> ToErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string? code = null, detail = null;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            using var json = await JsonDocument.ParseAsync(body, cancellationToken: ct);
            var first = json.RootElement.GetProperty("errors")[0];
            code = first.GetProperty("code").GetString();
            detail = first.TryGetProperty("detail", out var d) ? d.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or IOException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException) { }
        // The silo answers with the product's own error table, so its code and status are kept; only a silo fault (500,
        // or a body that is not an OCI error) becomes the client's 502.
        var status = (int)response.StatusCode;
        var known = code is null ? null : ErrorCode.FromCodeOrNull(code);
        var error = known is not null && known.Status == status ? known
            : status is >= 400 and < 500 or 503 ? new ErrorCode(code ?? (status == 503 ? "UNAVAILABLE" : "UNKNOWN"), status, $"silo answered {status}")
            : ErrorCode.BadGateway;
        var retryAfter = response.Headers.RetryAfter?.Delta;
        return new RegistryException(error, detail, retryAfter);
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Address} unreachable: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string address, string reason);
}
