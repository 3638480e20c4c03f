using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Mirror.Grains;

namespace Mirror.Silo.Hosting;

/// <summary>The one writer of the OCI error body <c>{"errors":[{"code","message","detail"}]}</c>.</summary>
public static class OciErrors
{
    /// <summary>Writes <paramref name="error"/> with its status. Never includes a stack trace.</summary>
    public static async Task WriteAsync(HttpContext context, ErrorCode error, string? detail, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        // The mirror's own record of what it refused or could not find, by code (e.g. MANIFEST_UNKNOWN, DENIED).
        context.RequestServices?.GetService<MirrorMetrics>()?.Add("mirror_errors_total", $"code=\"{error.Code}\"");
        response.StatusCode = error.Status;
        response.Headers.ContentType = "application/json; charset=utf-8";
        response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
        if (retryAfter is { } wait) response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString();
        if (error.Status == 405) response.Headers.Allow = "GET, HEAD";
        if (HttpMethods.IsHead(context.Request.Method)) return;
        var body = JsonSerializer.SerializeToUtf8Bytes(new ErrorBody([new ErrorItem(error.Code, error.Message, detail)]), JsonContext.Default.ErrorBody);
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>Writes a <see cref="RegistryException"/>.</summary>
    public static Task WriteAsync(HttpContext context, RegistryException e) => WriteAsync(context, e.Error, e.Detail, e.RetryAfter);

    internal sealed record ErrorBody(IReadOnlyList<ErrorItem> Errors);

    internal sealed record ErrorItem(string Code, string Message, string? Detail);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(OciErrors.ErrorBody))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class JsonContext : System.Text.Json.Serialization.JsonSerializerContext;
