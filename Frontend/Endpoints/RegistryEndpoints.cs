using Microsoft.Extensions.Primitives;
using Mirror.Frontend.Cluster;
using Mirror.Frontend.Http;
using Mirror.Frontend.Routing;
using Mirror.Grains;
using Mirror.Silo.Hosting;

namespace Mirror.Frontend.Endpoints;

/// <summary>The OCI Distribution API, pull side, on <c>/v2/</c>. Every request becomes grain calls.</summary>
public static partial class RegistryEndpoints
{
    /// <summary>Maps <c>/v2/</c> and everything under it.</summary>
    public static IEndpointRouteBuilder MapRegistryEndpoints(this IEndpointRouteBuilder app)
    {
        app.Map("/v2", HandleAsync);
        app.Map("/v2/{**rest}", HandleAsync);
        return app;
    }

    private static async Task HandleAsync(HttpContext context, IGrainFactory grains, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("Mirror.Frontend.Registry");
        context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
        try
        {
            var path = context.Request.Path.Value ?? "/v2";
            var after = path.Length > 4 ? path[4..] : "";
            var ns = context.Request.Query["ns"].FirstOrDefault();
            var route = RegistryPath.Parse(after, ns);
            if (route.Namespace is not null) context.Response.Headers["OCI-Namespace"] = route.Namespace;

            var method = context.Request.Method;
            if (route.Kind == RouteKind.Push || !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method)))
                throw new RegistryException(ErrorCode.Unsupported, "this is a pull-through mirror: no push, no delete");

            switch (route.Kind)
            {
                case RouteKind.Base:
                    context.Response.ContentType = "application/json";
                    context.Response.ContentLength = 2;
                    if (HttpMethods.IsGet(method)) await context.Response.WriteAsync("{}", context.RequestAborted);
                    return;
                case RouteKind.Manifest:
                    await ServeManifestAsync(context, grains, route);
                    return;
                case RouteKind.Blob:
                    await ServeBlobAsync(context, grains, route, logger);
                    return;
                case RouteKind.TagList:
                    await ServeTagsAsync(context, grains, route);
                    return;
            }
        }
        catch (RegistryException e) when (!context.Response.HasStarted)
        {
            if (e.Error.Status >= 500) LogUpstreamError(logger, context.Request.Path, e.Message);
            await OciErrors.WriteAsync(context, e);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client hung up; nothing to answer.
        }
    }

    private static async Task ServeManifestAsync(HttpContext context, IGrainFactory grains, RegistryRoute route)
    {
        var accept = AcceptList(context.Request.Headers.Accept);
        var grain = grains.GetManifest(new ManifestRef(route.Repository!, route.Reference!));
        var manifest = await grain.GetOrNullAsync(context.RequestAborted)
                       ?? throw new RegistryException(ErrorCode.ManifestUnknown, $"{route.ClientName}:{route.Reference} not found upstream");
        if (!MediaTypes.Accepts(accept, manifest.MediaType))
        {
            // Never answer with a type the client excluded: ask the upstream exactly what the client asked.
            manifest = await grain.GetForAcceptOrNullAsync(accept, context.RequestAborted);
            if (manifest is null || !MediaTypes.Accepts(accept, manifest.MediaType))
                throw new RegistryException(ErrorCode.ManifestUnknown, "no manifest in a media type the client accepts");
        }

        var response = context.Response;
        var etag = $"\"{manifest.Digest}\"";
        response.Headers.ContentType = manifest.MediaType;
        response.Headers["Docker-Content-Digest"] = manifest.Digest.ToString();
        response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Contains(etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }
        response.ContentLength = manifest.Bytes.Length;
        if (HttpMethods.IsGet(context.Request.Method)) await response.Body.WriteAsync(manifest.Bytes, context.RequestAborted);
    }

    private static async Task ServeBlobAsync(HttpContext context, IGrainFactory grains, RegistryRoute route, ILogger logger)
    {
        var digest = Digest.Parse(route.Reference!);
        var grain = grains.GetLayer(digest);
        var ct = context.RequestAborted;
        var rangeHeader = context.Request.Headers.Range.ToString();
        var isHead = HttpMethods.IsHead(context.Request.Method);

        long size;
        ByteRange range;
        BlobRead? read = null;
        if (isHead || ByteRange.IsPresent(rangeHeader))
        {
            var info = await grain.StatOrNullAsync(route.Repository!, ct) ?? throw BlobUnknown(route);
            size = info.Length;
            range = isHead && !ByteRange.IsPresent(rangeHeader) ? new ByteRange(RangeOutcome.Whole, 0, size - 1) : ByteRange.Parse(rangeHeader, size);
        }
        else
        {
            if (context.RequestServices.GetService<BlobRedirector>() is { } redirector
                && await redirector.TryRedirectAsync(route.Repository!, digest, ct) is { } url)
            {
                context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
                context.Response.Headers.Location = url.ToString();
                context.Response.Headers["Docker-Content-Digest"] = digest.ToString();
                return;
            }
            read = await grain.OpenReadOrNullAsync(route.Repository!, 0, ct) ?? throw BlobUnknown(route);
            size = read.Info.Length;
            range = new ByteRange(RangeOutcome.Whole, 0, size - 1);
        }

        var response = context.Response;
        response.Headers["Docker-Content-Digest"] = digest.ToString();
        response.Headers.ETag = $"\"{digest}\"";
        response.Headers.AcceptRanges = "bytes";
        if (range.Outcome == RangeOutcome.NotSatisfiable)
        {
            if (read is not null) await read.DisposeAsync();
            response.Headers.ContentRange = $"bytes */{size}";
            await OciErrors.WriteAsync(context, ErrorCode.RangeInvalid, $"range not satisfiable for a blob of {size} bytes");
            return;
        }
        response.Headers.ContentType = "application/octet-stream";
        if (range.Outcome == RangeOutcome.Partial)
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {range.Start}-{range.End}/{size}";
        }
        response.ContentLength = size == 0 ? 0 : range.Length;
        if (isHead || size == 0)
        {
            if (read is not null) await read.DisposeAsync();
            return;
        }

        read ??= await grain.OpenReadOrNullAsync(route.Repository!, range.Start, ct) ?? throw BlobUnknown(route);
        await using (read)
        {
            await StreamCopy.CopyOrAbortAsync(context, read.Content, range.Length, $"blob {digest}", logger, toEnd: range.End == size - 1);
        }
    }

    private static async Task ServeTagsAsync(HttpContext context, IGrainFactory grains, RegistryRoute route)
    {
        int? n = null;
        if (context.Request.Query.TryGetValue("n", out var nValues))
        {
            if (!int.TryParse(nValues.ToString(), System.Globalization.NumberStyles.None, null, out var parsed) || parsed > 10_000)
                throw new RegistryException(ErrorCode.PaginationInvalid, "n must be a number from 0 to 10000");
            n = parsed;
        }
        var last = context.Request.Query["last"].FirstOrDefault();
        if (last is not null && last.Length > 0 && !Names.IsValidTag(last))
            throw new RegistryException(ErrorCode.PaginationInvalid, "last must be a tag");
        var list = await grains.GetRepository(route.Repository!).ListTagsOrNullAsync(n, string.IsNullOrEmpty(last) ? null : last, context.RequestAborted)
                   ?? throw new RegistryException(ErrorCode.NameUnknown, $"{route.ClientName} not found upstream");
        var response = context.Response;
        response.ContentType = "application/json";
        if (list.Link is { } link) response.Headers.Link = RewriteLink(link, route);
        response.ContentLength = list.Json.Length;
        if (HttpMethods.IsGet(context.Request.Method)) await response.Body.WriteAsync(list.Json, context.RequestAborted);
    }

    /// <summary>The upstream's next-page link names its own path; the client needs it in the form it used.</summary>
    public static string RewriteLink(string link, RegistryRoute route)
    {
        var upstreamPrefix = $"</v2/{route.Repository!.Repository}/tags/list";
        if (!link.StartsWith(upstreamPrefix, StringComparison.Ordinal)) return link;
        var rest = link[upstreamPrefix.Length..];
        if (route.Namespace is not null)
        {
            var close = rest.IndexOf('>');
            if (close >= 0) rest = rest[..close] + (rest[..close].Contains('?') ? "&" : "?") + "ns=" + Uri.EscapeDataString(route.Namespace) + rest[close..];
        }
        return $"</v2/{route.ClientName}/tags/list{rest}";
    }

    private static RegistryException BlobUnknown(RegistryRoute route) =>
        new(ErrorCode.BlobUnknown, $"{route.Reference} not found in {route.ClientName}");

    private static List<string> AcceptList(StringValues values)
    {
        var list = new List<string>(values.Count);
        foreach (var v in values)
        {
            if (!string.IsNullOrWhiteSpace(v)) list.Add(v);
        }
        return list;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream error on {Path}: {Reason}")]
    private static partial void LogUpstreamError(ILogger logger, string path, string reason);

}
