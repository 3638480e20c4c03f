using System.Text.Json;
using Mirror.Grains;
using Mirror.Grains.Hosting;
using Mirror.Grains.Layers;
using Mirror.Silo.Hosting;

namespace Mirror.Silo.Cluster;

/// <summary>
/// The internal endpoint frontends call grains on (contract version 1, carried in <c>Mirror-Contract</c>):
/// <list type="bullet">
/// <item><c>GET /internal/v1/layers/{digest}?registry=&amp;repository=&amp;offset=</c>: the blob's bytes from an offset, while they
/// arrive; <c>Mirror-Blob-Length</c> gives the total. <c>421</c> with <c>Mirror-Owner</c> when another silo holds the lease.</item>
/// <item><c>GET /internal/v1/layers/{digest}/stat?registry=&amp;repository=</c>: <c>{"length":N}</c>.</item>
/// <item><c>GET /internal/v1/manifests?registry=&amp;repository=&amp;reference=[&amp;accept=client]</c>: the manifest bytes.</item>
/// </list>
/// Errors use the OCI error body with the status the frontend should answer with.
/// </summary>
public static partial class SiloEndpoints
{
    /// <summary>Header naming the silo that holds a digest's lease.</summary>
    public const string OwnerHeader = "Mirror-Owner";

    /// <summary>Header with a blob's total length on a layer read.</summary>
    public const string LengthHeader = "Mirror-Blob-Length";

    /// <summary>Maps the internal endpoint.</summary>
    public static IEndpointRouteBuilder MapSiloEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/internal/v1").AddEndpointFilter(async (ctx, next) =>
        {
            var http = ctx.HttpContext;
            http.Response.Headers[ClusterTiming.ContractHeader] = ClusterTiming.Contract.ToString();
            var asked = http.Request.Headers[ClusterTiming.ContractHeader].ToString();
            if (!int.TryParse(asked, out var version) || !ClusterTiming.SupportedContracts.Contains(version))
            {
                await OciErrors.WriteAsync(http, ErrorCode.Unsupported, $"contract '{asked}' not served; supported: {string.Join(',', ClusterTiming.SupportedContracts)}");
                return Results.Empty; // the answer is written; a null result would be serialised after it
            }
            try
            {
                return await next(ctx);
            }
            catch (RegistryException e) when (!http.Response.HasStarted)
            {
                await OciErrors.WriteAsync(http, e);
                return Results.Empty;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && !http.Response.HasStarted)
            {
                // No lease can be taken without PostgreSQL: a cold fetch waits for it, nothing else is affected.
                await OciErrors.WriteAsync(http, ErrorCode.Unavailable, "cluster database unavailable: cold fetches wait for it");
                return Results.Empty;
            }
            catch (NotOwnerException e) when (!http.Response.HasStarted)
            {
                http.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                if (e.OwnerAddress is not null) http.Response.Headers[OwnerHeader] = e.OwnerAddress;
                return Results.Empty;
            }
        });
        group.MapGet("/layers/{digest}", ReadLayerAsync);
        group.MapGet("/layers/{digest}/stat", StatLayerAsync);
        group.MapGet("/manifests", GetManifestAsync);
        return app;
    }

    private static async Task ReadLayerAsync(HttpContext context, string digest, LocalGrainFactory grains, ILoggerFactory loggers)
    {
        var (d, source) = Parse(context, digest);
        var offset = long.TryParse(context.Request.Query["offset"], out var o) && o >= 0 ? o : 0;
        var read = await grains.GetLayer(d).OpenReadOrNullAsync(source, offset, context.RequestAborted)
                   ?? throw new RegistryException(ErrorCode.BlobUnknown, $"{d} not found upstream");
        await using (read)
        {
            context.Response.Headers[LengthHeader] = read.Info.Length.ToString();
            context.Response.ContentType = "application/octet-stream";
            var count = Math.Max(0, read.Info.Length - offset);
            context.Response.ContentLength = count;
            await StreamCopy.CopyOrAbortAsync(context, read.Content, count, $"internal read of {d}", loggers.CreateLogger("Mirror.Silo.Internal"));
        }
    }

    private static async Task<IResult> StatLayerAsync(HttpContext context, string digest, LocalGrainFactory grains)
    {
        var (d, source) = Parse(context, digest);
        var info = await grains.GetLayer(d).StatOrNullAsync(source, context.RequestAborted)
                   ?? throw new RegistryException(ErrorCode.BlobUnknown, $"{d} not found upstream");
        return Results.Json(new LayerStat(info.Length));
    }

    private static async Task GetManifestAsync(HttpContext context, LocalGrainFactory grains)
    {
        var repository = ParseRepository(context);
        var reference = context.Request.Query["reference"].ToString();
        if (!(Names.IsValidTag(reference) || Digest.TryParse(reference, out _)))
            throw new RegistryException(ErrorCode.ManifestInvalid, "invalid reference");
        var grain = grains.GetManifest(new ManifestRef(repository, reference));
        var manifest = context.Request.Query["accept"] == "client"
            ? await grain.GetForAcceptOrNullAsync([.. context.Request.Headers.Accept.Where(a => !string.IsNullOrEmpty(a)).Select(a => a!)], context.RequestAborted)
            : await grain.GetOrNullAsync(context.RequestAborted);
        if (manifest is null) throw new RegistryException(ErrorCode.ManifestUnknown, $"{repository}:{reference} not found upstream");
        context.Response.ContentType = manifest.MediaType;
        context.Response.Headers["Docker-Content-Digest"] = manifest.Digest.ToString();
        context.Response.ContentLength = manifest.Bytes.Length;
        await context.Response.Body.WriteAsync(manifest.Bytes, context.RequestAborted);
    }

    private static (Digest, RepositoryRef) Parse(HttpContext context, string digest)
    {
        if (!Digest.TryParse(digest, out var d)) throw new RegistryException(ErrorCode.DigestInvalid, "invalid digest");
        return (d.Value, ParseRepository(context));
    }

    private static RepositoryRef ParseRepository(HttpContext context)
    {
        var registry = context.Request.Query["registry"].ToString();
        var repository = context.Request.Query["repository"].ToString();
        if (!Names.IsValidRegistry(registry) || !Names.IsValidRepository(repository))
            throw new RegistryException(ErrorCode.NameInvalid, "invalid registry or repository");
        return new RepositoryRef(registry, repository);
    }

    /// <summary>The stat answer.</summary>
    public sealed record LayerStat(long Length);
}
