// Draws every .kehu-chart from the ECharts option the server put in a JSON script next to it.
// A data item with a "url" opens the list behind it (drill-down); charts follow the width.
(function () {
  "use strict";
  function draw(root) {
    if (typeof window.echarts === "undefined") return;
    (root || document).querySelectorAll(".kehu-chart[data-option]").forEach(function (box) {
      if (box.dataset.drawn) return;
      var source = document.getElementById(box.dataset.option);
      if (!source) return;
      // The height comes as data (an inline style attribute would break the CSP).
      box.style.height = (parseInt(box.dataset.height, 10) || 320) + "px";
      var chart = window.echarts.init(box, null, { renderer: "canvas" });
      var option = JSON.parse(source.textContent);
      // Tooltips drawn on the canvas: ECharts' HTML tooltips carry style attributes the CSP
      // (style-src 'self') refuses.
      if (option.tooltip) option.tooltip.renderMode = "richText";
      chart.setOption(option);
      chart.on("click", function (params) {
        var url = params.data && params.data.url;
        if (url && url.charAt(0) === "/") window.location.assign(url);
      });
      box.dataset.drawn = "1";
      box.kehuChart = chart;
    });
  }
  function download(button) {
    var box = document.getElementById(button.dataset.chartPng);
    if (!box || !box.kehuChart) return;
    var link = document.createElement("a");
    link.href = box.kehuChart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
    link.download = (box.dataset.pngName || "chart") + ".png";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-chart-png]");
    if (button) download(button);
  });
  window.addEventListener("resize", function () {
    document.querySelectorAll(".kehu-chart").forEach(function (box) {
      if (box.kehuChart) box.kehuChart.resize();
    });
  });
  window.kehuCharts = { draw: draw };
})();
