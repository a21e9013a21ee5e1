/* Draws each chart from the numbers of the table that follows it (bundled ECharts). */
document.querySelectorAll("[data-chart]").forEach(function (el) {
  var data = JSON.parse(el.getAttribute("data-chart"));
  var chart = echarts.init(el, null, { renderer: "svg" });
  var series = data.series.map(function (s) {
    return { name: s.name, type: data.type || "bar", data: s.values };
  });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: "category", data: data.labels },
    yAxis: { type: "value" },
    series: series
  });
});
