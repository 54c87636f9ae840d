(function(){
'use strict';
var h=location.hash;if(h.indexOf('#selftest')!==0)return;
var table=document.getElementById('board');if(!table)return;
var want=h.indexOf('=')>0?decodeURIComponent(h.slice(h.indexOf('=')+1)):null,target=null,seen=0;
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
  if(!th.getAttribute('data-better'))return;seen++;
  if(want?th.getAttribute('data-key')===want:(!target&&!th.getAttribute('aria-sort')))target=th;
});
var result={rows:table.tBodies[0].rows.length,column:null,order:[],values:[],ranks:[]};
if(target){
  target.click();
  var col=target.cellIndex,rc=table.querySelector('thead th[data-key="rank"]');
  result.column=target.getAttribute('data-key');result.direction=target.getAttribute('aria-sort');
  Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
    result.order.push(r.getAttribute('data-run'));
    var v=r.cells[col].getAttribute('data-v');result.values.push(v===null?null:parseFloat(v));
    result.ranks.push(rc?r.cells[rc.cellIndex].textContent:null);
  });
}
var pre=document.createElement('pre');pre.id='selftest-result';pre.textContent=JSON.stringify(result);
document.body.appendChild(pre);
})();
