using System.Text;
using Mirror.Grains;

namespace Mirror.Silo.Hosting;

/// <summary>Whether this process should receive traffic; turned off while starting (dependencies down) and while draining.</summary>
public sealed class Readiness
{
    private volatile string? _notReadyReason = "starting";

    /// <summary>Null when ready, else why not.</summary>
    public string? NotReadyReason => _notReadyReason;

    /// <summary>Marks the process ready.</summary>
    public void SetReady() => _notReadyReason = null;

    /// <summary>Marks the process not ready, with a reason shown by <c>/readyz</c>.</summary>
    public void SetNotReady(string reason) => _notReadyReason = reason;
}

/// <summary>Liveness, readiness and metrics endpoints shared by the Frontend and the Silo.</summary>
public static class OpsEndpoints
{
    /// <summary>Maps <c>/healthz</c> (alive), <c>/readyz</c> (should receive traffic) and <c>/metrics</c> (Prometheus text).</summary>
    public static IEndpointRouteBuilder MapOpsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (Readiness readiness) => readiness.NotReadyReason is { } reason
            ? Results.Text($"not ready: {reason}\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n"));
        app.MapGet("/metrics", (MirrorMetrics metrics) =>
        {
            var text = new StringWriter(new StringBuilder(4096));
            metrics.Render(text);
            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        });
        return app;
    }
}

/// <summary>Turns unexpected exceptions into a bare 500 (never a stack trace) or, once the response started, an abort.</summary>
public sealed partial class FaultBarrier(RequestDelegate next, ILogger<FaultBarrier> logger)
{
    /// <summary>Runs the rest of the pipeline.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LogFault(logger, context.Request.Method, context.Request.Path, e);
            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync("{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"internal error\"}]}");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled fault on {Method} {Path}")]
    private static partial void LogFault(ILogger logger, string method, string path, Exception exception);
}
