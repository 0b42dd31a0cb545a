using System.Text.Json.Nodes;
using Tenzro.Node.Runtimes.Onnx;

using Tenzro.Node.Security;

namespace Tenzro.Node.Api;

/// <summary>The model store: upload ONNX models, list them with their inputs and outputs, delete them.</summary>
internal static class ModelsApi
{
    private const string UploadHint = "Send the raw bytes of an .onnx file: curl -X PUT --data-binary @model.onnx -H 'content-type: application/octet-stream' http://127.0.0.1:8080/api/models";

    public static WebApplication MapModelsApi(this WebApplication app)
    {
        var models = app.MapGroup("/api/models").WithTags("Models");
        // No Accepts metadata: it would make routing answer 415 to curl's default form content type.
        models.MapPut("/", PutAsync).RequireAuthorization(NodePolicies.Submitter).RequireRateLimiting(NodeRateLimiting.Submissions).WithName("PutModel").WithSummary("Store an ONNX model (raw bytes, application/octet-stream); 201 with its sha256, inputs and outputs.");
        models.MapGet("/", List).WithName("ListModels").WithSummary("Stored models, and what this node's ONNX Runtime can use.");
        models.MapGet("/{sha256}", Get).WithName("GetModel").WithSummary("One model's size, inputs and outputs.");
        models.MapDelete("/{sha256}", Delete).RequireAuthorization(NodePolicies.Admin).WithName("DeleteModel").WithSummary("Delete a model; 409 while inference tasks use it.");
        return app;
    }

    private static async Task<IResult> PutAsync(HttpContext context, ModelCatalog catalog)
    {
        var contentType = context.Request.ContentType;
        if (contentType is not null && (contentType.Contains("json", StringComparison.OrdinalIgnoreCase) || contentType.Contains("multipart", StringComparison.OrdinalIgnoreCase)))
        {
            return HttpSetup.Problem(415, "Unsupported media type", $"The body was sent as '{contentType}'. {UploadHint}");
        }

        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            bytes = buffer.ToArray();
        }

        try
        {
            var (model, created) = await catalog.AddAsync(bytes, context.RequestAborted);
            var location = $"/api/models/{model.Sha256}";
            context.Response.Headers.Location = location;
            return TypedResults.Json(model.ToJson(), statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
        }
        catch (InvalidModelException e)
        {
            return HttpSetup.Problem(422, "Not an ONNX model", $"The body is {e.Message}. {UploadHint}");
        }
        catch (ModelStorageFullException e)
        {
            return HttpSetup.Problem(507, "Storage full", $"The model was not stored: {e.Message}.");
        }
    }

    private static IResult List(ModelCatalog catalog, OnnxCapabilities capabilities, InferenceRuntime inference)
    {
        var runtime = capabilities.ToJson();
        runtime["sessionCache"] = inference.SessionCacheJson();
        runtime["runs"] = inference.Runs;
        if (inference.WorkersJson() is { } workers)
        {
            runtime["workers"] = workers;
        }

        return TypedResults.Json(new JsonObject
        {
            ["models"] = new JsonArray([.. catalog.List().Select(m => (JsonNode)m.ToJson())]),
            ["runtime"] = runtime,
        });
    }

    private static IResult Get(string sha256, ModelCatalog catalog)
    {
        try
        {
            var model = catalog.Find(sha256.ToLowerInvariant());
            return model is null ? NotFound(sha256) : TypedResults.Json(model.ToJson());
        }
        catch (InvalidModelException e)
        {
            return HttpSetup.Problem(404, "Not a model", $"A blob {sha256} is stored, but {e.Message}.");
        }
    }

    private static IResult Delete(string sha256, ModelCatalog catalog)
    {
        try
        {
            var freed = catalog.Delete(sha256.ToLowerInvariant());
            return freed is null
                ? NotFound(sha256)
                : TypedResults.Json(new JsonObject { ["sha256"] = sha256.ToLowerInvariant(), ["deleted"] = true, ["bytesFreed"] = freed });
        }
        catch (ModelInUseException e)
        {
            return HttpSetup.Problem(409, "Model in use", $"Not deleted: {e.Message}. Wait for them to end, or cancel them with DELETE /api/tasks/{{taskId}}.");
        }
    }

    private static IResult NotFound(string sha256) =>
        HttpSetup.Problem(404, "Model not found", $"No model {sha256} is stored on this node. List models with GET /api/models; upload one with PUT /api/models.");
}
