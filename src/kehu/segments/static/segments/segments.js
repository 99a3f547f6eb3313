// The size-over-time chart on a segment's page (ECharts, data from a json_script block).
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("segment-size-chart");
    var source = document.getElementById("segment-history");
    if (!box || !source || typeof window.echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(box);
    chart.setOption({
      tooltip: { trigger: "axis" },
      xAxis: { type: "time" },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        name: box.getAttribute("data-label") || "",
        type: "line", step: "end", showSymbol: data.at.length < 60,
        data: data.at.map(function (at, i) { return [at, data.size[i]]; })
      }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
