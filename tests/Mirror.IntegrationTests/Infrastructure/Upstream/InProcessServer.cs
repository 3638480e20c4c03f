using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>A bare Kestrel server on 127.0.0.1 with an OS-chosen port, running one request delegate.</summary>
internal static class InProcessServer
{
    /// <summary>Starts <paramref name="handler"/> and returns the app (dispose it to stop) and its base URL.</summary>
    public static async Task<(WebApplication App, Uri Url)> StartAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
            options.AddServerHeader = false;
            options.Limits.MaxRequestBodySize = null;
            // Throttled bodies are slow on purpose: Kestrel must not drop them as too slow.
            options.Limits.MinResponseDataRate = null;
            options.Limits.MinRequestBodyDataRate = null;
        });
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.TrimEnd('/') + "/"));
    }
}
