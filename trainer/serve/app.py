"""The HTTP face of a ModelService: Supervisely's serving routes, the plugin's REST deploy, TF Serving's REST
predict, and health and metrics; every error a JSON body, never a traceback.

Handlers are plain functions: FastAPI runs them in worker threads, and the batcher joins their crops."""
from __future__ import annotations

import base64
import binascii
import json
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Body, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException

from trainer.errors import ConfigError, UserError
from trainer.serve.guard import Guard, error_response
from trainer.serve.service import Busy, ModelService, TooLarge

_STATUS = ((TooLarge, 413), (Busy, 503), (ConfigError, 422), (UserError, 400))


def create_app(service: ModelService, token: str | None, shutting_down=lambda: False) -> Guard:
    """The ASGI app; `shutting_down()` says when /readyz should turn clients away."""

    @asynccontextmanager
    async def lifespan(app):
        # a worker thread per admitted request (and a few for health checks): --queue, not the thread pool, limits
        to_thread.current_default_thread_limiter().total_tokens = service.limits.queue + 8
        yield

    app = FastAPI(title=f"DeepLab Trainer: {service.name}", lifespan=lifespan,
                  description="Semantic segmentation with a DeepLab model: Supervisely's serving API, the Supervisely "
                              "plugin's REST deploy and TF Serving's REST predict.")

    @app.exception_handler(UserError)
    def user_error(request: Request, error: UserError):
        status = next(code for kind, code in _STATUS if isinstance(error, kind))
        headers = {"Retry-After": "1"} if status == 503 else None
        return error_response(status, "; ".join(error.lines), headers)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        return error_response(422, "; ".join(problems))

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException):
        return error_response(error.status_code, str(error.detail), error.headers)

    # health and metrics
    @app.get("/healthz", tags=["health"], summary="The process is alive (no token needed)")
    def healthz():
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], summary="The model is loaded and warmed up, and the server not stopping")
    def readyz():
        if not service.ready or shutting_down():
            return error_response(503, "not ready")
        return {"status": "ready"}

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse,
             summary="Prometheus metrics: requests, latency, batch sizes, queue depth, images served")
    def metrics():
        return PlainTextResponse(service.metrics.text(), media_type="text/plain; version=0.0.4")

    # Supervisely's serving API
    @app.post("/get_session_info", tags=["supervisely"])
    def get_session_info():
        return service.info()

    @app.post("/get_output_classes_and_tags", tags=["supervisely"], summary="The output project meta")
    @app.post("/get_model_meta", tags=["supervisely"], summary="Alias of /get_output_classes_and_tags")
    def get_output_classes_and_tags(body: dict | None = Body(None)):
        state = (body or {}).get("state") or {}
        return service.output_meta(state.get("settings"))

    @app.post("/get_custom_inference_settings", tags=["supervisely"])
    def get_custom_inference_settings():
        return {"settings": service.cfg}

    @app.post("/inference_image", tags=["supervisely"],
              summary="One image (`files`) → its Supervisely annotation; `settings`: inference config keys, and "
                      "optionally `annotation` (for the bboxes mode)")
    def inference_image(request: Request, files: list[UploadFile] = File(...), settings: str = Form("{}")):
        if len(files) != 1:
            raise UserError(f"Only one file expected (got {len(files)})")
        options = _json(settings, "settings")
        annotation = options.pop("annotation", None) if isinstance(options, dict) else None
        with service.admitted():
            result = service.annotate(files[0].file.read(), options, annotation, what=f"files[0] ({files[0].filename})")
        request.state.images = 1
        return {"annotation": result}

    @app.post("/inference_batch", tags=["supervisely"], summary="Several images (`files`) → their annotations")
    def inference_batch(request: Request, files: list[UploadFile] = File(...), settings: str = Form("{}")):
        options = _json(settings, "settings")
        with service.admitted():
            results = service.annotate_many([f.file.read() for f in files], options)
        request.state.images = len(files)
        return [{"annotation": result} for result in results]

    # the Supervisely plugin's REST deploy
    @app.post("/model/inference", tags=["plugin"],
              summary="`image` → annotation JSON; optional JSON parts `annotation`, `meta`, `mode`")
    def model_inference(request: Request, image: UploadFile = File(...), annotation: str | None = Form(None),
                        meta: str | None = Form(None), mode: str | None = Form(None)):
        with service.admitted():
            result = service.annotate(image.file.read(), _plugin_settings(mode), _json(annotation, "annotation"),
                                      _json(meta, "meta"), what=f"image ({image.filename})")
        request.state.images = 1
        return result

    @app.post("/model/get_out_meta", tags=["plugin"], summary="The output meta for an input `meta` and `mode`")
    def model_get_out_meta(meta: str | None = Form(None), mode: str | None = Form(None)):
        return service.output_meta(_plugin_settings(mode), _json(meta, "meta"))

    # TF Serving's REST API
    @app.get("/v1/models/{name}", tags=["tf-serving"], summary="Model status, as TF Serving reports it")
    def model_status(name: str):
        _known(name)
        state = "AVAILABLE" if service.ready else "LOADING"
        return {"model_version_status": [{"version": "1", "state": state,
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    @app.post("/v1/models/{name}:predict", tags=["tf-serving"],
              summary='{"instances": [{"b64": image}]} → {"predictions": [{"labels": {"b64": PNG of class indices}}]}')
    def predict(request: Request, name: str, body: dict = Body(...)):
        _known(name)
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            raise UserError('"instances": expected a non-empty list of {"b64": "<image file, base64>"}')
        images = [_b64(instance, f"instances[{i}]") for i, instance in enumerate(instances)]
        with service.admitted():
            labels = [service.labels_png(data, f"instances[{i}]") for i, data in enumerate(images)]
        request.state.images = len(images)
        return {"predictions": [{"labels": {"b64": base64.b64encode(png).decode("ascii")}} for png in labels]}

    def _known(name: str) -> None:
        if name != service.name:
            raise HTTPException(404, f"Servable not found for request: Latest({name}); this server serves "
                                     f"{service.name!r}")

    return Guard(app, token, service.limits, service.metrics)


def _json(text: str | None, what: str):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise UserError(f"{what}: not JSON ({error})") from None


def _plugin_settings(mode: str | None) -> dict | None:
    """The plugin sends only the `mode` group of an inference config."""
    return None if mode is None else {"mode": _json(mode, "mode")}


def _b64(instance: object, what: str) -> bytes:
    value = instance.get("image_bytes", instance) if isinstance(instance, dict) else None
    if not (isinstance(value, dict) and isinstance(value.get("b64"), str)):
        raise UserError(f'{what}: expected {{"b64": "<image file, base64>"}}')
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"{what}: b64 is not base64") from None
