// Starts Swagger UI on this server's OpenAPI document. It is a file of its own, not an inline
// script, so that the page's Content-Security-Policy can allow scripts from this origin only.
'use strict';

window.SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  // Never ask validator.swagger.io about the document (the CSP would refuse its badge anyway).
  validatorUrl: null,
  // A link cannot make this page load some other document (?url=... or ?configUrl=...).
  queryConfigEnabled: false,
  // "Try it out" sends requests with the key typed under Authorize; the key is not kept after the tab closes.
  persistAuthorization: false,
});
