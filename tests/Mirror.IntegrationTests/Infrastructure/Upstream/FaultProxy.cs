using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// An in-process HTTP reverse proxy (Kestrel on 127.0.0.1) in front of an upstream registry, which counts requests
/// and injects faults. Point the mirror under test at <see cref="Url"/>.
/// </summary>
/// <remarks>
/// Per request:
/// 1. Pick the fault: one set for the digest in the path's last segment (blobs or manifests), else the global one.
/// 2. Record the request (method, path, query, Authorization, Range) and wake waiters.
/// 3. Down aborts the connection; Fail answers with an OCI error; Hold waits for its release.
/// 4. Forward method, path+query, headers and streamed body to the target; a target that cannot be reached gives 502.
/// 5. Copy status and headers back, pointing Location headers for the target at the proxy.
/// 6. Stream the body back with 64 KiB reads, applying FlipByte, Truncate or Throttle; if the target breaks
///    mid-body the client's connection is aborted so the truncation cannot pass for a complete body.
/// </remarks>
public sealed class FaultProxy : IAsyncDisposable
{
    private const int BufferSize = 64 * 1024; // as YARP's copy loop
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Host", "Expect",
    };

    private readonly WebApplication _app;
    private readonly HttpMessageInvoker _invoker = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
    });
    private readonly ConcurrentDictionary<string, Slot> _byDigest = new();
    private readonly object _gate = new();
    private readonly List<ProxiedRequest> _requests = [];
    private readonly List<(Func<ProxiedRequest, bool> Match, TaskCompletionSource<ProxiedRequest> Signal)> _waiters = [];
    private Slot? _global;
    private long _sequence;

    private sealed class Slot(Fault fault)
    {
        public Fault Fault { get; } = fault;
        public int Remaining = fault.Times ?? int.MaxValue;
    }

    private FaultProxy(WebApplication app, Uri url, Uri target)
    {
        _app = app;
        Url = url;
        Target = target;
    }

    /// <summary>The proxy's base URL, http://127.0.0.1:PORT/.</summary>
    public Uri Url { get; }

    /// <summary>"127.0.0.1:PORT".</summary>
    public string HostPort => $"{Url.Host}:{Url.Port}";

    /// <summary>The base URL requests are forwarded to.</summary>
    public Uri Target { get; }

    /// <summary>Starts a proxy in front of <paramref name="registry"/>.</summary>
    public static Task<FaultProxy> StartAsync(UpstreamRegistry registry) => StartAsync(registry.Url);

    /// <summary>Starts a proxy in front of <paramref name="target"/> (scheme, host and port are used).</summary>
    public static async Task<FaultProxy> StartAsync(Uri target)
    {
        FaultProxy? proxy = null;
        var (app, url) = await InProcessServer.StartAsync(context => proxy!.HandleAsync(context));
        proxy = new FaultProxy(app, url, target);
        return proxy;
    }

    /// <summary>Applies <paramref name="fault"/> to every request without a digest fault; null clears it.</summary>
    public void SetFault(Fault? fault) => _global = fault is null ? null : new Slot(fault);

    /// <summary>Applies <paramref name="fault"/> to requests whose last path segment is <paramref name="digest"/> (blob or manifest); null clears it.</summary>
    public void SetFault(string digest, Fault? fault)
    {
        if (fault is null) _byDigest.TryRemove(digest, out _);
        else _byDigest[digest] = new Slot(fault);
    }

    /// <summary>Clears every fault.</summary>
    public void ClearFaults()
    {
        _global = null;
        _byDigest.Clear();
    }

    /// <summary>Every request received so far, in arrival order.</summary>
    public IReadOnlyList<ProxiedRequest> Requests { get { lock (_gate) return [.. _requests]; } }

    /// <summary>Number of requests with <paramref name="method"/> whose path satisfies <paramref name="path"/>.</summary>
    public int Count(string method, Func<string, bool> path)
    {
        lock (_gate) return _requests.Count(r => r.Method.Equals(method, StringComparison.OrdinalIgnoreCase) && path(r.Path));
    }

    /// <summary>Number of requests with <paramref name="method"/> and exactly <paramref name="path"/>.</summary>
    public int Count(string method, string path) => Count(method, p => p == path);

    /// <summary>Number of GETs of the blob <paramref name="digest"/> (any repository).</summary>
    public int CountBlobGets(string digest) => Count("GET", p => p.EndsWith("/blobs/" + digest, StringComparison.Ordinal));

    /// <summary>Forgets the requests recorded so far.</summary>
    public void ResetRequests()
    {
        lock (_gate) _requests.Clear();
    }

    /// <summary>Completes with the first request (already received or future) that satisfies <paramref name="match"/>.</summary>
    public Task<ProxiedRequest> WaitForRequestAsync(Func<ProxiedRequest, bool> match, TimeSpan timeout)
    {
        var signal = new TaskCompletionSource<ProxiedRequest>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var seen = _requests.FirstOrDefault(match);
            if (seen is not null) return Task.FromResult(seen);
            _waiters.Add((match, signal));
        }
        return signal.Task.WaitAsync(timeout);
    }

    /// <summary>Completes when a GET of the blob <paramref name="digest"/> has reached the proxy.</summary>
    public Task<ProxiedRequest> WaitForBlobGetAsync(string digest, TimeSpan timeout) =>
        WaitForRequestAsync(r => r.Method == "GET" && r.Path.EndsWith("/blobs/" + digest, StringComparison.Ordinal), timeout);

    private async Task HandleAsync(HttpContext context)
    {
        // 1. + 2.
        var isGet = HttpMethods.IsGet(context.Request.Method);
        var fault = TakeFault(context.Request.Path.Value ?? "", isGet);
        Record(context.Request, fault);

        // 3.
        switch (fault)
        {
            case DownFault:
                context.Abort();
                return;
            case FailFault fail:
                await WriteErrorAsync(context, fail);
                return;
            case HoldFault hold:
                try { await hold.Release.WaitAsync(context.RequestAborted); }
                catch (OperationCanceledException) { return; }
                break;
        }

        // 4.
        using var upstreamRequest = CreateUpstreamRequest(context);
        HttpResponseMessage response;
        try
        {
            response = await _invoker.SendAsync(upstreamRequest, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            await WriteErrorAsync(context, new FailFault(HttpStatusCode.BadGateway, "UNAVAILABLE"), e.Message);
            return;
        }

        using (response)
        {
            // 5.
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(name)) context.Response.Headers[name] = new StringValues([.. values]);
            }
            if (response.Headers.Location is { IsAbsoluteUri: true } location && SameAuthority(location, Target))
            {
                context.Response.Headers.Location = new Uri(Url, location.PathAndQuery).AbsoluteUri;
            }
            // A body without Content-Length goes out chunked, as some CDNs and registries send blobs.
            if (isGet && fault is ChunkedFault) context.Response.Headers.ContentLength = null;

            // 6.
            await CopyBodyAsync(context, response, isGet ? fault : null);
        }
    }

    private Fault? TakeFault(string path, bool isGet)
    {
        var lastSegment = path[(path.LastIndexOf('/') + 1)..];
        var slot = _byDigest.TryGetValue(lastSegment, out var bySlot) ? bySlot : _global;
        if (slot is null) return null;
        if (!isGet && slot.Fault is FlipByteFault or TruncateFault or ThrottleFault or HoldFault or ChunkedFault) return null;
        if (Interlocked.Decrement(ref slot.Remaining) >= 0) return slot.Fault;
        // Used up: clear it, unless it was replaced meanwhile.
        if (ReferenceEquals(_global, slot)) Interlocked.CompareExchange(ref _global, null, slot);
        else _byDigest.TryRemove(new KeyValuePair<string, Slot>(lastSegment, slot));
        return null;
    }

    private void Record(HttpRequest request, Fault? fault)
    {
        List<TaskCompletionSource<ProxiedRequest>> fire = [];
        ProxiedRequest record;
        lock (_gate)
        {
            record = new ProxiedRequest(++_sequence, request.Method, request.Path.Value ?? "", request.QueryString.Value ?? "",
                request.Headers.Authorization.Count > 0 ? request.Headers.Authorization.ToString() : null,
                request.Headers.Range.Count > 0 ? request.Headers.Range.ToString() : null, fault);
            _requests.Add(record);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(record)) { fire.Add(_waiters[i].Signal); _waiters.RemoveAt(i); }
            }
        }
        foreach (var signal in fire) signal.TrySetResult(record);
    }

    private HttpRequestMessage CreateUpstreamRequest(HttpContext context)
    {
        // RawTarget keeps the path and query exactly as the client encoded them.
        var rawTarget = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
        var message = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(Target, rawTarget))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var request = context.Request;
        if (request.ContentLength is not null || request.Headers.TransferEncoding.Count > 0)
        {
            message.Content = new StreamContent(request.Body, BufferSize);
        }
        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Contains(name)) continue;
            if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values))
            {
                message.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values);
            }
        }
        return message;
    }

    private static bool SameAuthority(Uri a, Uri b) =>
        a.Scheme == b.Scheme && a.Port == b.Port && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase);

    private static async Task CopyBodyAsync(HttpContext context, HttpResponseMessage response, Fault? fault)
    {
        var cancellationToken = context.RequestAborted;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var clock = Stopwatch.StartNew();
            long sent = 0;
            while (true)
            {
                var max = BufferSize;
                if (fault is ThrottleFault throttle) max = (int)Math.Clamp(throttle.BytesPerSecond / 20, 1, BufferSize);
                if (fault is TruncateFault truncate)
                {
                    max = (int)Math.Min(max, truncate.AfterBytes - sent);
                    if (max <= 0)
                    {
                        // Returning with fewer bytes than Content-Length makes Kestrel send what was written, then
                        // close the connection; HttpContext.Abort() would drop bytes still queued for the socket.
                        // Without a Content-Length an early return would end the body cleanly, so abort then.
                        await context.Response.Body.FlushAsync(cancellationToken);
                        if (context.Response.ContentLength is null) context.Abort();
                        return;
                    }
                }

                var read = await body.ReadAsync(buffer.AsMemory(0, max), cancellationToken);
                if (read == 0) return;
                if (fault is FlipByteFault flip && flip.Offset >= sent && flip.Offset < sent + read)
                {
                    buffer[flip.Offset - sent] ^= 0xFF;
                }
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                sent += read;

                if (fault is ThrottleFault rate)
                {
                    // Rate limiting, not synchronisation: wait until the bytes sent are due.
                    var ahead = TimeSpan.FromSeconds(sent / (double)rate.BytesPerSecond) - clock.Elapsed;
                    if (ahead > TimeSpan.Zero) await Task.Delay(ahead, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            // The target broke mid-body: abort so the client cannot take a short body for a whole one.
            context.Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, FailFault fail, string? detail = null)
    {
        var path = context.Request.Path.Value ?? "";
        var code = fail.Code ?? fail.Status switch
        {
            HttpStatusCode.Unauthorized => "UNAUTHORIZED",
            HttpStatusCode.Forbidden => "DENIED",
            HttpStatusCode.NotFound when path.Contains("/blobs/") => "BLOB_UNKNOWN",
            HttpStatusCode.NotFound when path.Contains("/manifests/") => "MANIFEST_UNKNOWN",
            HttpStatusCode.NotFound => "NAME_UNKNOWN",
            HttpStatusCode.TooManyRequests => "TOOMANYREQUESTS",
            HttpStatusCode.ServiceUnavailable => "UNAVAILABLE",
            _ => "UNKNOWN",
        };
        context.Response.StatusCode = (int)fail.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            errors = new[] { new { code, message = $"injected by FaultProxy: {(int)fail.Status}", detail } },
        }));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _invoker.Dispose();
        lock (_gate)
        {
            foreach (var (_, signal) in _waiters) signal.TrySetCanceled();
            _waiters.Clear();
        }
    }
}
