using Microsoft.AspNetCore.Http;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server.Endpoints;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c>: the base model and each adapter, by the names requests use.</summary>
internal sealed class ModelsEndpoint(ServerContext server, long started)
{
    public Task ListAsync(HttpContext http) =>
        ServerContext.WriteJsonAsync(http, 200, new { Object = "list", Data = server.Models.Select(Describe) });

    public Task GetAsync(HttpContext http, string id) => ServerContext.WriteJsonAsync(http, 200, Describe(server.Find(id)));

    private object Describe(ServedModel m) => new { Id = m.Name, Object = "model", Created = started, OwnedBy = "selfalign" };
}
