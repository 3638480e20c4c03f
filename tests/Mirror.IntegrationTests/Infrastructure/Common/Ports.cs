using System.Net;
using System.Net.Sockets;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>Free TCP ports on 127.0.0.1 for child processes that cannot be told to bind port 0.</summary>
public static class Ports
{
    /// <summary>A port that was free a moment ago (bind to 0, read it, release).</summary>
    public static int GetFree()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        var port = ((IPEndPoint)socket.LocalEndpoint).Port;
        socket.Stop();
        return port;
    }
}
