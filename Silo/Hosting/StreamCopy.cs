using System.Buffers;

namespace Mirror.Silo.Hosting;

/// <summary>The one copy loop for blob bodies, in the Frontend and on the silo's internal endpoint.</summary>
public static partial class StreamCopy
{
    /// <summary>64 KiB: the fetch's chunk size, so a follower's read maps onto one spool write (see bench/).</summary>
    public const int BufferSize = 64 * 1024;

    /// <summary>
    /// Copies exactly <paramref name="count"/> bytes to the response and disposes <paramref name="source"/>. Any fault
    /// once the response has started aborts the connection, so a truncated body can never pass for a complete one.
    /// When <paramref name="count"/> runs to the source's end, the last chunk is held back until the source has
    /// reported its end and been disposed without complaint: streams that verify at the end (the S3 SDK's checksum,
    /// a fetch's digest) get to fail before the client could take the body for complete. Returns the bytes sent.
    /// </summary>
    public static async Task<long> CopyOrAbortAsync(HttpContext context, Stream source, long count, string what, ILogger logger,
        bool toEnd = true)
    {
        // A committed file in the local cache is read synchronously: from the page cache a pread is a memcpy, while an
        // asynchronous read costs a thread-pool hop per call; the store opens such files without FileOptions.Asynchronous.
        // The buffer stays at 64 KiB for them too: bench/run.sh --systems limit,embedded with 1 MiB was within the noise
        // of 64 KiB (warm 16 clients at 0.68 and 0.61 of the limit against 0.71 and 0.69; 1 client 1.84 and 1.12 against 1.24 and 1.05).
        var localFile = source is FileStream { IsAsync: false } fs ? fs : null;
        // One spare byte past the chunk, for the end-of-source probe.
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize + 1);
        var chunk = BufferSize;
        var ct = context.RequestAborted;
        var remaining = count;
        try
        {
            await context.Response.StartAsync(ct);
            while (remaining > 0)
            {
                var want = buffer.AsMemory(0, (int)Math.Min(chunk, remaining));
                var n = localFile is not null ? localFile.Read(want.Span) : await source.ReadAsync(want, ct);
                if (n == 0) throw new IOException($"source of {what} ended {remaining} bytes early");
                if (n == remaining && toEnd)
                {
                    var probe = buffer.AsMemory(n, 1);
                    var extra = localFile is not null ? localFile.Read(probe.Span) : await source.ReadAsync(probe, ct);
                    if (extra != 0) throw new IOException($"source of {what} is longer than {count} bytes");
                    await source.DisposeAsync();
                }
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, n), ct);
                remaining -= n;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away; any fetch carries on for everyone else.
        }
        catch (Exception e)
        {
            LogAborted(logger, what, count - remaining, count, e.Message);
            context.Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return count - remaining;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Aborted {What} after {Sent} of {Total} bytes: {Reason}")]
    private static partial void LogAborted(ILogger logger, string what, long sent, long total, string reason);
}
