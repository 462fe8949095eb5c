// Vraagbaak Deep Linking answer (qa/web/lti_deep_link.py): submit the signed
// LtiDeepLinkingResponse to the platform at once (the page's button does the same without script).
(function () {
  "use strict";
  var form = document.getElementById("lti-return");
  if (form) form.submit();
})();
